#!/usr/bin/env python3
"""dkim-survey.py - the DKIM signatures of the public corpus's report mails (issue 14).

    dkim-survey.py CORPUS_DIR [--tsv]
    dkim-survey.py --files MAIL...     each signature's "d= body-hash-result" (a self-check:
                                       t/e2e/report-auth.sh runs it on mails libopendkim signed)

For every mail of CORPUS_DIR/MANIFEST.tsv (format "eml"; the file under CORPUS_DIR/files/):
its DKIM-Signature fields, each with d=, s=, a=, c=, t= and x=, and whether its body hash
(bh=) still matches the body as archived.  The body hash is observable without the signer's
key: the body canonicalized as c= says (simple or relaxed, RFC 6376 3.4.3/3.4.4; l= honoured),
hashed with a='s algorithm.  The signature itself (b=, over the header fields) needs the
public key from DNS at the time: we have no archived keys and no network, so no signature
here can be called valid; a body hash mismatch proves it can never verify, a match only that
the body is unchanged.  Archived files often lost their CRs (git); bare LF is taken as CRLF,
as an MTA would send it, and an mbox "From " line is dropped.

Prints one line per signature and a summary (counts by d= domain and by body hash result);
--tsv prints the per-signature lines tab-separated.  Not run by make check (a survey, not a
test); standard library only.
"""
import base64
import collections
import hashlib
import os
import re
import sys
import time


def split_message(raw):
    if raw.startswith(b"From "):
        raw = raw[raw.find(b"\n") + 1:]
    raw = re.sub(rb"(?<!\r)\n", b"\r\n", raw)
    pos = raw.find(b"\r\n\r\n")
    if pos < 0:
        return raw, b""
    return raw[:pos + 2], raw[pos + 4:]


def header_fields(head):
    fields = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        elif line:
            fields.append(line)
    return fields


def tags(value):
    out = {}
    for part in re.sub(rb"\s+", b"", value).split(b";"):
        if b"=" in part:
            k, _, v = part.partition(b"=")
            out[k.decode(errors="replace").lower()] = v.decode(errors="replace")
    return out


def canon_body(body, relaxed):
    lines = body.split(b"\r\n")
    if relaxed:
        lines = [re.sub(rb"[ \t]+", b" ", line).rstrip(b" \t") for line in lines]
    while lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        return b"" if relaxed else b"\r\n"
    return b"\r\n".join(lines) + b"\r\n"


def manifest_mails(corpus):
    """(name, path) of every mail of the corpus's manifest"""
    with open(os.path.join(corpus, "MANIFEST.tsv"), encoding="utf-8") as f:
        head = f.readline().rstrip("\n").split("\t")
        for line in f:
            rec = dict(zip(head, line.rstrip("\n").split("\t")))
            if rec.get("format") == "eml":
                yield rec["path"], os.path.join(corpus, "files", rec["path"])


def survey(mails):
    rows = []
    for name, path in mails:
        try:
            with open(path, "rb") as m:
                raw = m.read()
        except OSError:
            rows.append((name, None))
            continue
        hdr, body = split_message(raw)
        sigs = []
        for field in header_fields(hdr):
            fname, _, value = field.partition(b":")
            if fname.strip().lower() != b"dkim-signature":
                continue
            t = tags(value)
            canon = t.get("c", "simple/simple")
            body_canon = canon.split("/")[1] if "/" in canon else "simple"
            algo = t.get("a", "")
            h = {"rsa-sha256": hashlib.sha256, "ed25519-sha256": hashlib.sha256, "rsa-sha1": hashlib.sha1}.get(algo)
            result = "no-bh-tag" if "bh" not in t else "unknown-algorithm"
            if h is not None and "bh" in t:
                c = canon_body(body, body_canon == "relaxed")
                if "l" in t:
                    try:
                        c = c[:int(t["l"])]
                    except ValueError:
                        pass
                try:
                    want = base64.b64decode(t.get("bh", ""), validate=False)
                except ValueError:
                    want = b""
                result = "match" if h(c).digest() == want else "mismatch"
            expired = ""
            if t.get("x", "").isdigit() and int(t["x"]) < time.time():
                expired = "expired " + time.strftime("%Y-%m-%d", time.gmtime(int(t["x"])))
            signed = time.strftime("%Y-%m-%d", time.gmtime(int(t["t"]))) if t.get("t", "").isdigit() else "-"
            sigs.append({"d": t.get("d", "?").lower(), "s": t.get("s", "?"), "a": algo or "?", "c": canon,
                         "t": signed, "x": expired or "-", "bh": result, "l": t.get("l", "-")})
        rows.append((name, sigs))
    return rows


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: dkim-survey.py CORPUS_DIR [--tsv] | --files MAIL...")
    if sys.argv[1] == "--files":
        for name, sigs in survey((p, p) for p in sys.argv[2:]):
            print("%s %s" % (name, " ".join("%s %s" % (s["d"], s["bh"]) for s in sigs or []) or "unsigned"))
        return
    rows = survey(manifest_mails(sys.argv[1]))
    tsv = "--tsv" in sys.argv[2:]
    mails = len(rows)
    signed = sum(1 for _, s in rows if s)
    by_domain = collections.Counter()
    by_result = collections.Counter()
    mails_matching = 0
    for path, sigs in rows:
        if sigs is None:
            print(("%s\tunreadable" if tsv else "%s: unreadable") % path)
            continue
        if not sigs:
            continue
        mails_matching += any(s["bh"] == "match" for s in sigs)
        for s in sigs:
            by_domain[s["d"]] += 1
            by_result[s["bh"]] += 1
            if tsv:
                print("\t".join([path, s["d"], s["s"], s["a"], s["c"], s["t"], s["x"], s["l"], s["bh"]]))
            else:
                print("%s: d=%s s=%s a=%s c=%s signed %s%s l=%s body hash %s" % (
                    path, s["d"], s["s"], s["a"], s["c"], s["t"], "" if s["x"] == "-" else " " + s["x"], s["l"], s["bh"]))
    nsigs = sum(by_domain.values())
    print("# %d report mails, %d carry a DKIM-Signature (%d signatures)" % (mails, signed, nsigs))
    print("# by d=: " + ", ".join("%s %d" % kv for kv in sorted(by_domain.items(), key=lambda kv: (-kv[1], kv[0]))))
    print("# body hash: " + ", ".join("%s %d" % kv for kv in sorted(by_result.items())) +
          "; mails with at least one matching body hash: %d" % mails_matching)
    print("# verifiable against archived keys: 0 (no archived keys and no network; the selectors' keys"
          " of the time are not in the corpus)")


if __name__ == "__main__":
    main()
