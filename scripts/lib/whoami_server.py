#!/usr/bin/env python3
"""A small HTTP server for the demo and tests: answers every GET with who it is and who asked.

usage: whoami_server.py NAME [PORT]
The body is one line: "NAME sees client IP:PORT". Large bodies: GET /bytes/N returns N bytes.
"""
import http.server
import socketserver
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/bytes/"):
            n = int(self.path.split("/")[2])
            body = b"x" * n
        else:
            body = f"{NAME} sees client {self.client_address[0]}:{self.client_address[1]}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    NAME = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 80
    Server(("0.0.0.0", port), Handler).serve_forever()
