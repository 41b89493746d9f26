#!/usr/bin/python3
"""The embedded stack's WhatsApp gateway sink: a local HTTP server that stores
the body of every POST as DIR/<UTC timestamp>-<n>.json so a person can read
the message, and answers 202 Accepted with {"id": "<timestamp>-<n>"}.
While the file named by --fail-file exists it answers 503 instead (stores
nothing), so tests can simulate a downed gateway. Writes are atomic
(temporary file, fsync, rename). Logs one line per request with its size and
status, never the body (it holds a phone number and a code). Stops cleanly on
SIGTERM or SIGINT.

Usage: /usr/bin/python3 infra/smtp/http_sink.py --host 127.0.0.1 --port 8025 \
           --dir var/whatsapp [--fail-file var/whatsapp.down]
"""
import argparse
import datetime
import http.server
import itertools
import json
import os
import signal
import sys
import threading

import spool  # infra/smtp/spool.py, beside this script

MAX_BODY = 1 << 20


def log(msg, **kv):
    ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    fields = " ".join("%s=%s" % (k, v) for k, v in kv.items())
    sys.stderr.write('ts=%s level=info prog=http-sink msg="%s" %s\n' % (ts, msg, fields))
    sys.stderr.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "oss-http-sink/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # the default logs to stderr unformatted
        pass

    def reply(self, status, obj):
        body = (json.dumps(obj) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply(200 if self.path in ("/", "/health") else 404,
                   {"status": "ok"} if self.path in ("/", "/health") else {"error": "not found"})

    def do_POST(self):
        srv = self.server
        try:
            n = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            self.close_connection = True
            log("refused request", path=self.path, status=413)
            self.reply(413, {"error": "body missing or too large"})
            return
        data = self.rfile.read(n) if n else b""
        if srv.fail_file and os.path.exists(srv.fail_file):
            log("gateway down (fail file present)", path=self.path, bytes=len(data), status=503)
            self.send_response(503)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Type", "application/json")
            body = b'{"error": "gateway unavailable"}\n'
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        with srv.lock:
            seq = next(srv.seq)
        try:
            mid = os.path.basename(spool.store(srv.dir, seq, ".json", data))[:-len(".json")]
        except OSError as e:
            log("could not store message", error='"%s"' % e.strerror, status=500)
            self.reply(500, {"error": "could not store message"})
            return
        log("stored message", path=self.path, file=mid + ".json", bytes=len(data), status=202)
        self.reply(202, {"id": mid, "status": "accepted"})


def main():
    ap = argparse.ArgumentParser(description="HTTP sink storing POST bodies as .json files")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8025)
    ap.add_argument("--dir", required=True, help="directory receiving <timestamp>-<n>.json")
    ap.add_argument("--fail-file", default=None,
                    help="while this file exists, answer 503 (simulated outage)")
    args = ap.parse_args()
    os.makedirs(args.dir, mode=0o750, exist_ok=True)

    srv = http.server.ThreadingHTTPServer((args.host, args.port), Handler)
    srv.daemon_threads = True
    srv.dir = args.dir
    srv.fail_file = args.fail_file
    srv.seq = itertools.count(1)
    srv.lock = threading.Lock()

    def on_signal(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log("listening", host=args.host, port=args.port, dir=args.dir,
        fail_file=args.fail_file or "-")
    try:
        srv.serve_forever(poll_interval=0.5)
    finally:
        srv.server_close()
        log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
