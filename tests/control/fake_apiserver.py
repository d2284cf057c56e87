#!/usr/bin/env python3
"""A scripted stand-in for the Kubernetes API server, for natgw's kubernetes-source tests.

Usage: fake_apiserver.py SCRIPT.json REQUESTS.log [--cert C --key K [--client-ca CA]]
       fake_apiserver.py --live STATE.json REQUESTS.log [--port N]

Live mode (the end-to-end test, tests/integration/kube_api_test.sh): a tiny API server with
state. Lists of pods, services, endpointslices and nodes return what it holds (one page); watches
stream every change after their resourceVersion as it happens, then wait for more until their
timeoutSeconds. The test changes the state while natgw watches:
  POST /test/apply   body: an object   -> ADDED or MODIFIED (a new resourceVersion)
  POST /test/delete  body: an object   -> DELETED (matched by kind, namespace, name)
The state is kept in STATE.json (loaded at start, written at every change), so a server killed
and started again holds what it held; it keeps no history from before its start, so a watch from
an older resourceVersion gets 410 Gone (an ERROR event) and the client lists again. Listens on
127.0.0.1:N (default ephemeral) and prints the port.

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
import os
import ssl
import sys
import threading
import time
import urllib.parse
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


COLLECTIONS = {"pods": "Pod", "services": "Service", "endpointslices": "EndpointSlice",
               "nodes": "Node"}


class Live:
    """The live mode's state: objects by (kind, namespace, name), and the events since start."""

    def __init__(self, path):
        self.path = path
        self.cond = threading.Condition()
        self.rv = 100
        self.objects = {}
        try:
            with open(path) as f:
                saved = json.load(f)
            self.rv = saved["rv"]
            for o in saved["objects"]:
                self.objects[self.key(o)] = o
        except FileNotFoundError:
            pass
        self.floor = self.rv  # no history before this resourceVersion
        self.events = []      # (rv, kind, event)

    @staticmethod
    def key(o):
        m = o.get("metadata", {})
        return (o["kind"], m.get("namespace", ""), m["name"])

    def change(self, verb, o):
        with self.cond:
            k = self.key(o)
            if verb == "delete":
                o = self.objects.pop(k, None)
                if o is None:
                    return 404
                kind = "DELETED"
            else:
                kind = "MODIFIED" if k in self.objects else "ADDED"
            self.rv += 1
            o.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
            if verb != "delete":
                self.objects[k] = o
            self.events.append((self.rv, o["kind"], {"type": kind, "object": o}))
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"rv": self.rv, "objects": list(self.objects.values())}, f)
            os.replace(tmp, self.path)
            self.cond.notify_all()
            return 200


def live_get(handler, live):
    url = urllib.parse.urlsplit(handler.path)
    q = urllib.parse.parse_qs(url.query)
    kind = COLLECTIONS.get(url.path.rsplit("/", 1)[-1])
    if kind is None:
        return handler.reply(404, {"kind": "Status", "code": 404, "message": "no such collection"})
    if q.get("watch") != ["1"]:
        with live.cond:
            items = [o for o in live.objects.values() if o["kind"] == kind]
            rv = live.rv
        return handler.reply(200, {"kind": kind + "List", "apiVersion": "v1",
                                   "metadata": {"resourceVersion": str(rv)}, "items": items})
    since = int(q.get("resourceVersion", ["0"])[0])
    deadline = time.monotonic() + int(q.get("timeoutSeconds", ["60"])[0])
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()

    def send(event):
        data = (json.dumps(event) + "\n").encode()
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        handler.wfile.flush()

    try:
        if since < live.floor:
            send({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "code": 410,
                                              "reason": "Expired",
                                              "message": "too old resource version"}})
        else:
            while time.monotonic() < deadline:
                with live.cond:
                    todo = [(rv, e) for rv, k, e in live.events if rv > since and k == kind]
                    if not todo:
                        live.cond.wait(0.5)
                        continue
                for rv, e in todo:
                    send(e)
                    since = rv
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
    except (BrokenPipeError, ConnectionResetError, OSError):
        handler.close_connection = True


def main():
    if sys.argv[1] == "--live":
        return main_live()
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


def main_live():
    live = Live(sys.argv[2])
    log = open(sys.argv[3], "a")
    opts = dict(zip(sys.argv[4::2], sys.argv[5::2]))

    class LiveHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def reply(self, status, obj):
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

        def do_GET(self):
            with LOCK:
                log.write(json.dumps({"path": self.path,
                                      "authorization": self.headers.get("Authorization", "")}) + "\n")
                log.flush()
            live_get(self, live)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            verb = self.path.rsplit("/", 1)[-1]
            if self.path not in ("/test/apply", "/test/delete"):
                return self.reply(404, {"message": "POST /test/apply or /test/delete"})
            code = live.change(verb, json.loads(body))
            return self.reply(code, {"resourceVersion": str(live.rv)})

    server = ThreadingHTTPServer(("127.0.0.1", int(opts.get("--port", "0"))), LiveHandler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
