#!/usr/bin/env python3
"""A scripted stand-in for the Kubernetes API server, for natgw's kubernetes-source tests.

Usage: fake_apiserver.py SCRIPT.json REQUESTS.log [--cert C --key K [--client-ca CA]]

Listens on 127.0.0.1 on an ephemeral port and prints the port on stdout. SCRIPT.json:
  {"routes": [{"match": "/api/v1/pods?limit=", "status": 200,
               "chunks": ["...", "..."],   # each one HTTP chunk (Transfer-Encoding: chunked)
               "body": "...",              # instead of chunks: one Content-Length body
               "delay_ms": 0,              # before each chunk
               "dribble_ms": 0,            # > 0: every byte its own chunk, this far apart
               "end": "close"}]}           # close: final chunk | abort: drop the connection
                                           # hold: stay open, sending nothing more
Each request takes the first unused route whose "match" prefixes its path (with the query). A
watch request with no route left is held open with no events; any other gets 404. Every request
is appended to REQUESTS.log as one JSON line: {"path", "authorization", "client_cn"}.
"""
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def do_GET(self):
        client_cn = ""
        if isinstance(self.connection, ssl.SSLSocket):
            cert = self.connection.getpeercert()
            for rdn in (cert or {}).get("subject", ()):
                for key, value in rdn:
                    if key == "commonName":
                        client_cn = value
        with LOCK:
            seen = {"path": self.path, "authorization": self.headers.get("Authorization", ""),
                    "client_cn": client_cn}
            self.server.log.write(json.dumps(seen) + "\n")
            self.server.log.flush()
            route = None
            for r in self.server.routes:
                if not r.get("_used") and self.path.startswith(r["match"]):
                    r["_used"] = True
                    route = r
                    break
        if route is None:
            if "watch=1" in self.path:
                route = {"status": 200, "chunks": [], "end": "hold"}
            else:
                route = {"status": 404, "body": '{"kind":"Status","code":404,"message":"no route"}'}
        self.send_response(route.get("status", 200))
        self.send_header("Content-Type", "application/json")
        if "body" in route:
            data = route["body"].encode()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        try:
            for chunk in route.get("chunks", []):
                data = chunk.encode()
                pieces = [data]
                if route.get("dribble_ms"):
                    pieces = [data[i:i + 1] for i in range(len(data))]
                for piece in pieces:
                    time.sleep((route.get("dribble_ms") or route.get("delay_ms", 0)) / 1000.0)
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.flush()
            end = route.get("end", "close")
            if end == "close":
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            elif end == "abort":
                self.close_connection = True
                self.connection.shutdown(2)
            else:
                while True:
                    time.sleep(3600)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True


def main():
    script_path, log_path = sys.argv[1], sys.argv[2]
    opts = dict(zip(sys.argv[3::2], sys.argv[4::2]))
    with open(script_path) as f:
        script = json.load(f)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.routes = script.get("routes", [])
    server.log = open(log_path, "a")
    if "--cert" in opts:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts["--cert"], opts["--key"])
        if "--client-ca" in opts:
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(opts["--client-ca"])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
