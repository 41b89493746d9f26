#!/usr/bin/python3
"""The embedded stack's SMTP sink: a real SMTP server (Debian's aiosmtpd) that
stores every received message as DIR/<UTC timestamp>-<n>.eml so a person can
read it. Writes are atomic (temporary file, fsync, rename): a reader never sees
half a message. Logs one line per message with its size, recipient count and
Message-ID, never an address. Stops cleanly on SIGTERM or SIGINT.

Usage: /usr/bin/python3 infra/smtp/sink.py --host 127.0.0.1 --port 2525 --dir var/mail
"""
import argparse
import datetime
import itertools
import os
import re
import signal
import sys
import threading

import spool  # infra/smtp/spool.py, beside this script

from aiosmtpd.controller import Controller


def log(msg, **kv):
    ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    fields = " ".join("%s=%s" % (k, v) for k, v in kv.items())
    sys.stderr.write('ts=%s level=info prog=smtp-sink msg="%s" %s\n' % (ts, msg, fields))
    sys.stderr.flush()


MSGID_RE = re.compile(rb"^message-id:[ \t]*(<[^>\r\n]{1,200}>)", re.I | re.M)


class Store:
    """aiosmtpd handler: one .eml file per accepted message."""

    def __init__(self, directory):
        self.dir = directory
        self.seq = itertools.count(1)
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        head = b"Return-Path: <%s>\r\n" % (envelope.mail_from or "").encode("utf-8", "replace")
        for rcpt in envelope.rcpt_tos:
            head += b"Delivered-To: %s\r\n" % rcpt.encode("utf-8", "replace")
        data = head + content
        with self.lock:
            n = next(self.seq)
        try:
            name = os.path.basename(spool.store(self.dir, n, ".eml", data))
        except OSError as e:
            log("could not store message", error='"%s"' % e.strerror)
            return "451 4.3.0 could not store message"
        m = MSGID_RE.search(content)
        log("stored message", file=name, bytes=len(data), rcpts=len(envelope.rcpt_tos),
            message_id=(m.group(1).decode("ascii", "replace") if m else "-"))
        return "250 2.0.0 stored"


def main():
    ap = argparse.ArgumentParser(description="SMTP sink storing messages as .eml files")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=2525)
    ap.add_argument("--dir", required=True, help="directory receiving <timestamp>-<n>.eml")
    args = ap.parse_args()
    os.makedirs(args.dir, mode=0o750, exist_ok=True)

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    ctl = Controller(Store(args.dir), hostname=args.host, port=args.port,
                     server_hostname="oss-sink.local", ready_timeout=10.0)
    ctl.start()
    log("listening", host=args.host, port=args.port, dir=args.dir)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        ctl.stop()
        log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
