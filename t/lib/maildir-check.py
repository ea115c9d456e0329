#!/usr/bin/env python3
"""maildir-check.py - compare delivered mail with what an e2e test expects.

    maildir-check.py MAILROOT EXPECT.tsv LABEL

MAILROOT holds Maildirs <domain>/<local>/{new,cur}.  EXPECT.tsv lines:
    TEST_ID <TAB> MAILBOX (domain/local) <TAB> HEADER_REGEX <TAB> SOURCE|-
TEST_ID is the X-Test-Id header smtp-send.py added.  Each expectation wants
exactly one delivered copy in MAILBOX whose X-DMARCwatch value matches
HEADER_REGEX ("^$" means: no such header) and, with SOURCE, whose body equals
the body of that file byte for byte.  Prints "PASS text" or "FAIL text"
lines (a summary per check kind, first failures in detail) for the caller
to count.  Exit status 0 when all passed.
"""
import collections
import os
import re
import sys


def split(raw):
    sep = raw.find(b"\r\n\r\n")
    nl = raw.find(b"\n\n")
    if sep < 0 or (0 <= nl < sep):
        return (raw[:nl], raw[nl + 2:]) if nl >= 0 else (raw, b"")
    return raw[:sep], raw[sep + 4:]


def header_values(head, name):
    out = []
    lines = re.split(rb"\r?\n", head)
    current = None
    for line in lines + [b""]:
        if line[:1] in (b" ", b"\t") and current is not None:
            current += b" " + line.strip()
            continue
        if current is not None:
            k, _, v = current.partition(b":")
            if k.strip().lower() == name.lower().encode():
                out.append(v.strip().decode(errors="replace"))
        current = line
    return out


def main():
    root, expect_path, label = sys.argv[1:4]
    delivered = collections.defaultdict(list)  # (test id, mailbox) -> [(header or None, body)]
    for domain in os.listdir(root):
        for local in os.listdir(os.path.join(root, domain)):
            for sub in ("new", "cur"):
                d = os.path.join(root, domain, local, sub)
                if not os.path.isdir(d):
                    continue
                for name in os.listdir(d):
                    with open(os.path.join(d, name), "rb") as f:
                        raw = f.read()
                    head, body = split(raw)
                    ids = header_values(head, "X-Test-Id")
                    hdr = header_values(head, "X-DMARCwatch")
                    for tid in ids[:1]:
                        delivered[(tid, domain + "/" + local)].append((hdr[0] if hdr else None, body))
    fails = collections.Counter()
    details = []
    total = collections.Counter()
    with open(expect_path) as f:
        for line in f:
            tid, box, regex, source = line.rstrip("\n").split("\t")
            total["delivered"] += 1
            copies = delivered.get((tid, box), [])
            if len(copies) != 1:
                fails["delivered"] += 1
                details.append("%s in %s: %d copies" % (tid, box, len(copies)))
                continue
            hdr, body = copies[0]
            total["header"] += 1
            if not re.search(regex, hdr or ""):
                fails["header"] += 1
                details.append("%s: X-DMARCwatch %r does not match %r" % (tid, hdr, regex))
            if source != "-":
                total["unchanged"] += 1
                with open(source, "rb") as s:
                    want = split(s.read())[1]
                if body.replace(b"\r\n", b"\n") != want.replace(b"\r\n", b"\n"):
                    fails["unchanged"] += 1
                    details.append("%s: body changed" % tid)
    what = {"delivered": "delivered exactly once", "header": "expected X-DMARCwatch header",
            "unchanged": "body unchanged"}
    for kind in ("delivered", "header", "unchanged"):
        if total[kind]:
            word = "FAIL" if fails[kind] else "PASS"
            print("%s %s: %d/%d %s" % (word, label, total[kind] - fails[kind], total[kind], what[kind]))
    for d in details[:8]:
        print("INFO   " + d)
    sys.exit(1 if sum(fails.values()) else 0)


if __name__ == "__main__":
    main()
