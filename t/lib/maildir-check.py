#!/usr/bin/env python3
"""maildir-check.py - compare delivered mail with what an e2e test expects.

    maildir-check.py [--sink] MAILROOT EXPECT.tsv LABEL

MAILROOT holds Maildirs <domain>/<local>/{new,cur}; with --sink it is the
folder of an `smtp-sink -d` (one file per SMTP transaction, its envelope
recipients in X-Rcpt-Args records before the message), and every recipient
of a file counts as one copy in its mailbox.  EXPECT.tsv lines:
    TEST_ID <TAB> MAILBOX (domain/local) <TAB> HEADER_REGEX <TAB> SOURCE|-
TEST_ID is the X-Test-Id header smtp-send.py added.  Each expectation wants
exactly one delivered copy in MAILBOX whose X-DMARCwatch value matches
HEADER_REGEX ("^$" means: no such header) and, with SOURCE, whose body equals
the body of that file byte for byte (line ends aside); a MAILBOX written
!domain/local wants no copy there.  Prints "PASS text" or "FAIL text"
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


def maildir_copies(root):
    """(mailbox, raw message) for every mail in the Maildirs below root."""
    for domain in os.listdir(root):
        for local in os.listdir(os.path.join(root, domain)):
            for sub in ("new", "cur"):
                d = os.path.join(root, domain, local, sub)
                if not os.path.isdir(d):
                    continue
                for name in os.listdir(d):
                    with open(os.path.join(d, name), "rb") as f:
                        yield domain + "/" + local, f.read()


def sink_copies(folder):
    """(mailbox, raw message) for every recipient of every smtp-sink dump file in folder."""
    for name in os.listdir(folder):
        with open(os.path.join(folder, name), "rb") as f:
            raw = f.read()
        # smtp-sink writes the data without CRs, and the LF of the closing "." line too.
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        for rcpt in re.findall(rb"^X-Rcpt-Args: <?([^>\s]*)", split(raw)[0], re.M):
            local, _, domain = rcpt.decode(errors="replace").rpartition("@")
            yield domain.lower() + "/" + local, raw


def main():
    args = sys.argv[1:]
    sink = args[:1] == ["--sink"]
    root, expect_path, label = args[1:4] if sink else args[0:3]
    delivered = collections.defaultdict(list)  # (test id, mailbox) -> [(header or None, body)]
    for box, raw in (sink_copies(root) if sink else maildir_copies(root)):
        head, body = split(raw)
        ids = header_values(head, "X-Test-Id")
        hdr = header_values(head, "X-DMARCwatch")
        for tid in ids[:1]:
            delivered[(tid, box)].append((hdr[0] if hdr else None, body))
    fails = collections.Counter()
    details = []
    total = collections.Counter()
    with open(expect_path) as f:
        for line in f:
            tid, box, regex, source = line.rstrip("\n").split("\t")
            if box.startswith("!"):
                total["absent"] += 1
                copies = delivered.get((tid, box[1:]), [])
                if copies:
                    fails["absent"] += 1
                    details.append("%s in %s: %d copies, want none" % (tid, box[1:], len(copies)))
                continue
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
            "unchanged": "body unchanged", "absent": "not delivered where none is due"}
    for kind in ("delivered", "header", "unchanged", "absent"):
        if total[kind]:
            word = "FAIL" if fails[kind] else "PASS"
            print("%s %s: %d/%d %s" % (word, label, total[kind] - fails[kind], total[kind], what[kind]))
    for d in details[:8]:
        print("INFO   " + d)
    sys.exit(1 if sum(fails.values()) else 0)


if __name__ == "__main__":
    main()
