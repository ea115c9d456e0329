#!/usr/bin/env python3
"""smtp-send.py - send mail files over SMTP from several concurrent clients (e2e tests).

    smtp-send.py --port P [--threads N] [--retry SECONDS] [--tag TAG] [--sender ADDR]
                 [--source IP] [--times] SPEC

SPEC has one message per line: "PATH<TAB>RCPT[,RCPT...]".  Each message gets
an "X-Test-Id: <tag>:<line number>:<file name>" header at the top so the delivered
copy can be matched.  N threads share the list; each keeps one SMTP session
and sends its messages one after another, from 127.0.0.1 or from --source (another
loopback address: a client whose IP an SPF record does not list).  A 4xx answer is
retried for up to --retry seconds (0: no retry).  Prints "ID<TAB>CODE<TAB>TEXT" per message
(with --times a fourth field: the milliseconds from MAIL FROM to the answer to the
end of data, the session's set-up left out) and exits 0 when every message got 250,
else 1.  Standard library only.
"""
import argparse
import os
import queue
import smtplib
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--retry", type=float, default=0)
    ap.add_argument("--sender", default="noreply-dmarc-support@google.com")
    ap.add_argument("--tag", default="t")
    ap.add_argument("--source", default=None)
    ap.add_argument("--times", action="store_true")
    ap.add_argument("spec")
    args = ap.parse_args()

    work = queue.Queue()
    with open(args.spec) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            path, rcpts = line.split("\t")
            work.put(("%s:%d:%s" % (args.tag, n, os.path.basename(path)), path, rcpts.split(",")))
    results = []
    lock = threading.Lock()

    def worker():
        conn = None
        while True:
            try:
                tid, path, rcpts = work.get_nowait()
            except queue.Empty:
                break
            with open(path, "rb") as f:
                raw = f.read()
            # An mbox "From " separator line is not part of the message.
            if raw.startswith(b"From "):
                raw = raw[raw.find(b"\n") + 1:]
            data = b"X-Test-Id: " + tid.encode() + b"\r\n" + raw
            deadline = time.time() + args.retry
            while True:
                code, text, began = 0, "", time.monotonic()
                try:
                    if conn is None:
                        conn = smtplib.SMTP("127.0.0.1", args.port, local_hostname="client.test", timeout=60,
                                            source_address=(args.source, 0) if args.source else None)
                        conn.ehlo()
                    began = time.monotonic()
                    refused = conn.sendmail(args.sender, rcpts, data)
                    code, text = (250, "ok") if not refused else (450, str(refused))
                except smtplib.SMTPRecipientsRefused as e:
                    code, text = list(e.recipients.values())[0][0], str(e.recipients)
                except smtplib.SMTPResponseException as e:
                    code, text = e.smtp_code, e.smtp_error.decode(errors="replace")
                except (smtplib.SMTPException, OSError) as e:
                    code, text = 421, str(e)
                if code != 250:
                    try:
                        if conn is not None:
                            conn.rset()
                    except (smtplib.SMTPException, OSError):
                        conn = None
                if 400 <= code < 500 and time.time() < deadline:
                    time.sleep(0.2)
                    continue
                break
            with lock:
                results.append((tid, code, text.replace("\n", " "), (time.monotonic() - began) * 1000))
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                pass

    threads = [threading.Thread(target=worker) for _ in range(max(1, args.threads))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = 0
    for tid, code, text, ms in sorted(results, key=lambda r: int(r[0].split(":")[1])):
        print("%s\t%d\t%s" % (tid, code, text) + ("\t%.1f" % ms if args.times else ""))
        bad += code != 250
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
