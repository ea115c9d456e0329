#!/usr/bin/env python3
"""Verdicts and per-day sender limits through `dmarcwatch` (issue 14): what `ingest`
(text and --json), `reports` (table and --json) and `deliver` say and do with
UnauthenticatedReports quarantine, and with DomainReportsPerDay under OverLimitAction
quarantine and tempfail; `db verify` stays clean.  The CLI has no mail checks yet, so
every report here is unauthenticated; the forged and authenticated paths are the unit
tests' (test-ingest-trust.cc, test-store-trust.cc).
Prints one line per check and ends with "N passed, M failed"."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, finish  # noqa: E402

BUILDDIR = os.environ.get("BUILDDIR", ".")
BIN = os.path.join(BUILDDIR, "collector", "cli", "dmarcwatch")
DAY = 86400


def run(conf, *args, stdin=None):
    p = subprocess.run([BIN, "-c", conf, *args], input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def load_cli_test():
    """cli-test.py as a module: its report_file makes the reports here too."""
    spec = importlib.util.spec_from_file_location("cli_test", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                          "cli-test.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


report_file = load_cli_test().report_file


def write(directory, name, text):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def config(tmp, name, db, extra):
    os.makedirs(db, exist_ok=True)  # a configured Database must exist (issue 15)
    return write(tmp, name, "Database %s\n%s" % (db, extra))


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def verify_clean(conf, what):
    rc, out, err = run(conf, "db", "verify")
    check(rc == 0, "%s: db verify clean" % what, out + err)


def status_messages(conf):
    rc, out, _ = run(conf, "status", "--json", "--since", "all")
    if rc != 0:
        return None
    return sum(d["messages"] for d in json.loads(out)["domains"])


def main():
    os.environ["COLUMNS"] = "200"  # the reports table shows every column whole
    tmp = tempfile.mkdtemp(prefix="dmarcwatch-trust.")
    try:
        begin = (int(time.time()) // DAY - 2) * DAY
        a = report_file(tmp, "example.com", "a", begin, 5)
        b = report_file(tmp, "example.com", "b", begin, 7)
        c = report_file(tmp, "example.com", "c", begin, 11)
        with open(report_file(tmp, "example.com", "m", begin, 13)) as f:
            mail = write(tmp, "m.eml", "From: dmarc@example.net\nSubject: report\nContent-Type: text/xml\n\n" + f.read())

        # 1. Defaults: a bare file is unauthenticated ("not a mail"), stored and counted.
        conf = config(tmp, "default.conf", os.path.join(tmp, "db1"), "")
        rc, out, err = run(conf, "ingest", "--json", a)
        lines = json_lines(out)
        r = lines[0]["reports"][0] if lines and lines[0]["reports"] else {}
        check(rc == 0 and r.get("authenticity") == "unauthenticated" and r.get("auth_reason") == "not a mail"
              and r.get("state") == "active" and r.get("status") == "stored",
              "ingest --json: a bare file is unauthenticated, not a mail, active", out + err)
        rc, out, err = run(conf, "ingest", mail)
        check(rc == 0 and "stored report m " in out and "unauthenticated (no DNS to check with (Resolver none))" in out,
              "ingest text: the verdict and its reason end the line", out + err)
        rc, out, err = run(conf, "reports", "--json")
        reports = json.loads(out)["reports"] if rc == 0 else []
        check(len(reports) == 2 and all(x["authenticity"] == "unauthenticated" for x in reports)
              and reports[0]["auth_reason"] == "not a mail",
              "reports --json: authenticity and auth_reason", out + err)
        rc, out, err = run(conf, "reports")
        check(rc == 0 and "active" in out and "(forged)" not in out and "(authenticated)" not in out,
              "reports table: unauthenticated reports unmarked in STATE", out + err)

        # 2. UnauthenticatedReports quarantine: stored, listed, out of the totals.
        conf = config(tmp, "quarantine.conf", os.path.join(tmp, "db2"), "UnauthenticatedReports quarantine\n")
        rc, out, err = run(conf, "ingest", "--json", a, b)
        states = [(r["state"], r.get("state_reason")) for line in json_lines(out) for r in line["reports"]]
        check(rc == 0 and states == [("quarantined", "unauthenticated: not a mail")] * 2,
              "UnauthenticatedReports quarantine: quarantined with the reason, exit 0", out + err)
        rc, out, err = run(conf, "ingest", a)
        check(rc == 0 and "quarantined (not counted): unauthenticated: not a mail" in out,
              "ingest text says quarantined (a duplicate: its stored copy's state)", out + err)
        check(status_messages(conf) == 0, "quarantined reports are out of status's totals")
        rc, out, _ = run(conf, "reports", "--json")
        check(rc == 0 and [x["state"] for x in json.loads(out)["reports"]] == ["quarantined"] * 2,
              "reports lists them quarantined", out)
        verify_clean(conf, "quarantined reports")
        # The admin's decision: released into the totals, and out again.
        seqs = [x["sequence"] for x in json.loads(out)["reports"]]
        rc, out, err = run(conf, "reports", "--release", str(seqs[0]))
        check(rc == 0 and "released" in out and status_messages(conf) > 0,
              "reports --release N puts a quarantined report into the totals", out + err)
        verify_clean(conf, "a released report")
        rc, out, err = run(conf, "reports", "--quarantine", str(seqs[0]))
        check(rc == 0 and status_messages(conf) == 0, "reports --quarantine N takes it out again", out + err)
        verify_clean(conf, "a report quarantined by hand")
        rc, out, err = run(conf, "reports", "--release", "999")
        check(rc == 1 and "999" in err, "reports --release of an unknown report: exit 1 naming it", out + err)
        rc, out, err = run(conf, "reports", "--release", "x")
        check(rc == 2, "reports --release x: usage error", out + err)

        # 3. DomainReportsPerDay 2, OverLimitAction quarantine: the third is quarantined, noticed once.
        conf = config(tmp, "limit.conf", os.path.join(tmp, "db3"), "DomainReportsPerDay 2\n")
        rc, out, err = run(conf, "ingest", "--json", a, b, c, mail)
        rows = [r for line in json_lines(out) for r in line["reports"]]
        notices = [r.get("limit_notice") for r in rows]
        want = "over DomainReportsPerDay (2) for example.com on " + time.strftime("%Y-%m-%d", time.gmtime())
        check(rc == 0 and [r["state"] for r in rows] == ["active", "active", "quarantined", "quarantined"]
              and rows[2].get("state_reason") == want and notices[2] == want and notices[3] is None,
              "over DomainReportsPerDay: quarantined, limit_notice on the first only", out + err)
        check(status_messages(conf) == 12, "the totals hold the two reports under the limit")
        # Duplicates are free: storing them again notices nothing and quarantines nothing new.
        rc, out, err = run(conf, "ingest", a)
        check(rc == 0 and "duplicate report a" in out and "notice:" not in out, "a duplicate does not count", out + err)
        verify_clean(conf, "over a limit")

        # 4. OverLimitAction tempfail: nothing stored, the input fails (ingest 1, deliver 75).
        conf = config(tmp, "tempfail.conf", os.path.join(tmp, "db4"),
                      "DomainReportsPerDay 1\nOverLimitAction tempfail\n")
        rc, out, err = run(conf, "ingest", "--json", a, b)
        lines = json_lines(out)
        check(rc == 1 and len(lines) == 2 and lines[0]["error"] is None and lines[1]["reports"] == []
              and "over DomainReportsPerDay (1) for example.com" in (lines[1]["error"] or ""),
              "tempfail: the input over the limit fails, exit 1", out + err)
        with open(mail, "rb") as f:
            message = f.read()
        p = subprocess.run([BIN, "-c", conf, "deliver"], input=message, capture_output=True, timeout=60)
        check(p.returncode == 75 and b"DomainReportsPerDay" in p.stderr,
              "deliver over a limit with tempfail: exit 75", (p.stdout + p.stderr).decode())
        rc, out, _ = run(conf, "reports", "--json")
        check(rc == 0 and [x["report_id"] for x in json.loads(out)["reports"]] == ["a"],
              "tempfail stored nothing of the inputs over the limit", out)
        verify_clean(conf, "tempfail")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
