#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A local AWS Lambda Runtime API (2018-06-01) for testing the bootstrap.

Serves the events of --events (a JSON list; a string item is sent as raw
text, so malformed events can be tested) to GET .../invocation/next, records
every request as one JSON line in --log, and answers the POSTs with 202 as
the documented API does. When the events run out it disappears: the next
`next` gets its connection closed and the server exits, like a sandbox that
is shut down. Loopback only; --timeout bounds its life so nothing can hang.

SnapStart: GET .../restore/next answers 200 at once, as if the snapshot had
been taken and restored (after running --on-restore, a shell command, to
change the "restored" environment); POST .../restore/error is recorded.
"""
import argparse
import http.server
import json
import os
import subprocess
import sys
import threading
import time

PREFIX = "/2018-06-01/runtime"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--save-dir", help="write each response body to DIR/NNN.json")
    ap.add_argument("--timeout", type=float, default=90)
    ap.add_argument("--on-restore", help="shell command run before restore/next answers")
    args = ap.parse_args()
    events = json.load(open(args.events))
    state = {"next": 0}
    log = open(args.log, "a")
    lock = threading.Lock()

    def record(entry):
        with lock:
            log.write(json.dumps(entry) + "\n")
            log.flush()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n).decode("utf-8", "replace")

        def reply(self, status, payload, headers=(), chunked=False):
            data = payload.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for k, v in headers:
                self.send_header(k, v)
            if chunked:
                # Exercise the client's chunked decoding: several pieces.
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(0, len(data), 7):
                    piece = data[i:i + 7]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            self.wfile.flush()

        def do_GET(self):
            if self.path == PREFIX + "/restore/next":
                record({"method": "GET", "path": self.path})
                if args.on_restore:
                    subprocess.run(args.on_restore, shell=True, check=False)
                return self.reply(200, "")
            if self.path != PREFIX + "/invocation/next":
                record({"method": "GET", "path": self.path})
                return self.reply(404, '{"errorMessage":"no such path"}')
            i = state["next"]
            record({"method": "GET", "path": self.path, "event": i})
            if i >= len(events):
                # Disappear: drop this connection and stop listening.
                record({"gone": True})
                log.close()
                os._exit(0)
            state["next"] += 1
            ev = events[i]
            text = ev if isinstance(ev, str) else json.dumps(ev)
            rid = "req-%d" % (i + 1)
            headers = [("Lambda-Runtime-Aws-Request-Id", rid),
                       ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60000)),
                       ("Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:faultless-test")]
            if i % 2 == 0:
                headers.append(("Lambda-Runtime-Trace-Id",
                                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e7%02d;Sampled=1" % i))
            self.reply(200, text, headers, chunked=(i == 1))

        def do_POST(self):
            body = self.body()
            entry = {"method": "POST", "path": self.path, "body": body,
                     "error_type": self.headers.get("Lambda-Runtime-Function-Error-Type")}
            record(entry)
            if args.save_dir and self.path.endswith("/response"):
                rid = self.path.split("/")[-2]
                with open(os.path.join(args.save_dir, rid + ".json"), "w") as f:
                    f.write(body)
            ok = (self.path in (PREFIX + "/init/error", PREFIX + "/restore/error") or
                  (self.path.startswith(PREFIX + "/invocation/") and
                   self.path.rsplit("/", 1)[-1] in ("response", "error")))
            self.reply(202 if ok else 404, '{"status":"OK"}' if ok else '{"errorMessage":"?"}')

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    threading.Timer(args.timeout, lambda: os._exit(3)).start()
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
