#!/usr/bin/env python3
"""The `dmarcwatch` command contract (DESIGN.md): exit codes, --json shapes,
inputs (files, stdin, mbox, Maildir, directories), dedup, reports and status.
Prints one line per check and ends with "N passed, M failed"."""
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, finish  # noqa: E402

SRCDIR = os.environ.get("SRCDIR", ".")
BUILDDIR = os.environ.get("BUILDDIR", ".")
BIN = os.path.join(BUILDDIR, "collector", "cli", "dmarcwatch")
SAMPLES = os.path.join(SRCDIR, "t", "data", "samples")




def run(*args, stdin=None, now=None):
    """Run dmarcwatch; now (seconds since the epoch) pins its "today" (DMARCWATCH_NOW, tests only)."""
    env = dict(os.environ)
    env.pop("DMARCWATCH_NOW", None)
    if now is not None:
        env["DMARCWATCH_NOW"] = str(now)
    p = subprocess.run([BIN, *args], input=stdin, capture_output=True, timeout=60, env=env)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def newdb(path):
    """A store directory for deliver (only ingest --db creates one)."""
    os.makedirs(path, exist_ok=True)
    return path


def day_of(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d")


def report_file(directory, domain, report_id, begin, messages):
    """A one-record aggregate report for domain over [begin, begin + 1 day); its path."""
    xml = ('<?xml version="1.0"?><feedback><report_metadata><org_name>example.net</org_name>'
           "<email>dmarc@example.net</email><report_id>%s</report_id><date_range><begin>%d</begin>"
           "<end>%d</end></date_range></report_metadata><policy_published><domain>%s</domain>"
           "<p>none</p></policy_published><record><row><source_ip>192.0.2.77</source_ip><count>%d</count>"
           "<policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf>"
           "</policy_evaluated></row><identifiers><header_from>%s</header_from></identifiers>"
           "<auth_results><dkim><domain>%s</domain><result>pass</result></dkim></auth_results></record>"
           "</feedback>\n" % (report_id, begin, begin + 86399, domain, messages, domain, domain))
    path = os.path.join(directory, report_id + ".xml")
    with open(path, "w") as f:
        f.write(xml)
    return path


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def expected():
    rows = {}
    with open(os.path.join(SAMPLES, "EXPECTED.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, reports, records, messages = line.split()[:4]
            rows[name] = (int(reports), int(records), int(messages))
    return rows


def main():
    tmp = tempfile.mkdtemp(prefix="dmarcwatch-cli.")
    try:
        db = os.path.join(tmp, "db")
        want = expected()
        files = [os.path.join(SAMPLES, n) for n in sorted(want)]

        rc, out, _ = run("--help")
        check(rc == 0 and "ingest" in out and "status" in out, "--help exits 0 and lists the commands")
        rc, out, _ = run("--version")
        check(rc == 0 and out.startswith("dmarcwatch "), "--version")
        rc, _, err = run()
        check(rc == 2 and "no command" in err, "no command: exit 2", err)
        rc, _, err = run("--db", db, "frobnicate")
        check(rc == 2 and "unknown command" in err, "unknown command: exit 2", err)
        rc, _, err = run("--db", db, "ingest", "--bogus", files[0])
        check(rc == 2, "unknown ingest option: exit 2", err)
        rc, _, err = run("--db", db, "ingest")
        check(rc == 2, "ingest without inputs: exit 2", err)

        bad_conf = os.path.join(tmp, "bad.conf")
        with open(bad_conf, "w") as f:
            f.write("# test\nDatabase /tmp/x\nNoSuchKey yes\n")
        rc, _, err = run("-c", bad_conf, "status")
        check(rc == 2 and f"{bad_conf}:3: unknown key 'NoSuchKey'" in err, "config error names file:line, exit 2", err)
        rc, _, err = run("-c", os.path.join(tmp, "missing.conf"), "status")
        check(rc == 2 and "missing.conf" in err, "missing -c file: exit 2", err)
        rc, out, _ = run("--dump-config")
        check(rc == 0 and "\nSocket " in out and "\nMaxMessageSize " in out, "--dump-config lists keys")
        # Every key of the table is documented in dmarcwatch.conf(5).
        keys = [line.lstrip("#").split()[0] for line in out.splitlines()
                if line and not line.startswith("# ") and line != "#"]
        with open(os.path.join(BUILDDIR, "conf", "dmarcwatch.conf.5")) as f:
            manual = f.read()
        missing = [k for k in keys if f"\n.B {k} " not in manual]
        check(len(keys) > 20 and not missing, f"dmarcwatch.conf(5) documents all {len(keys)} keys", f"missing {missing}")

        rc, _, err = run("--db", os.path.join(tmp, "nostore"), "status")
        check(rc == 2 and f"Database {tmp}/nostore (--db): no such directory" in err,
              "status on a missing store directory: exit 2 naming the key, the path and --db", err)
        os.mkdir(os.path.join(tmp, "empty"))
        rc, _, err = run("--db", os.path.join(tmp, "empty"), "status")
        check(rc == 1 and "no store at" in err and "empty" in err, "status on an empty directory: exit 1 naming it", err)
        missing_conf = os.path.join(tmp, "missing-db.conf")
        with open(missing_conf, "w") as f:
            f.write("# test\n\nDatabase %s\n" % os.path.join(tmp, "nodb"))
        for command, want_rc in (("status", 2), ("reports", 2), ("ingest", 2), ("deliver", 75)):
            rc, _, err = run("-c", missing_conf, command, *(["--json"] if command == "deliver" else []),
                             *([files[0]] if command == "ingest" else []), stdin=b"")
            check(rc == want_rc and f"Database {tmp}/nodb ({missing_conf} line 3): no such directory" in err,
                  f"{command}: a missing Database from the file names key, file and line (exit {want_rc})", err)
        check(not os.path.exists(os.path.join(tmp, "nodb")), "... and creates nothing")
        rc, out, err = run("-c", missing_conf, "--db", os.path.join(tmp, "newdb"), "--dump-config")
        check(rc == 0 and f"# dmarcwatch configuration as read from {missing_conf}" in out
              and f"\nDatabase {tmp}/newdb  # --db\n" in out, "--dump-config: the file read and --db's value", out + err)

        # Every sample, one JSON object per input, exact totals.
        rc, out, err = run("--db", db, "ingest", "--json", *files)
        objs = json_lines(out)
        check(rc == 0 and len(objs) == len(files), f"ingest {len(files)} samples: exit 0, one JSON line each", err)
        for obj in objs:
            name = os.path.basename(obj["path"])
            reports, records, messages = want[name]
            got = (len(obj["reports"]), sum(r["records"] for r in obj["reports"]), sum(r["messages"] for r in obj["reports"]))
            keys_ok = all(set(r) >= {"org", "report_id", "domain", "begin", "end", "records", "messages", "status"}
                          for r in obj["reports"])
            check(obj["error"] is None and got == (reports, records, messages) and keys_ok and "warnings" in obj,
                  f"{name}: {got}", f"want {(reports, records, messages)}, error {obj['error']!r}")
        stored = sum(1 for o in objs for r in o["reports"] if r["status"] == "stored")

        rc, out, _ = run("--db", db, "ingest", "--json", *files)
        again = json_lines(out)
        check(rc == 0 and all(r["status"] == "duplicate" for o in again for r in o["reports"]),
              "second ingest: every report duplicate, exit 0")

        # stdin
        with open(os.path.join(SAMPLES, "modoboa-google.eml"), "rb") as f:
            rc, out, _ = run("--db", db, "ingest", "--json", "-", stdin=f.read())
        obj = json_lines(out)[0]
        check(rc == 0 and obj["path"] == "-" and obj["reports"][0]["status"] == "duplicate", "stdin input", out)

        # A bad input fails the run (exit 1) without stopping the good ones.
        junk = os.path.join(tmp, "junk.bin")
        with open(junk, "wb") as f:
            f.write(b"\x00\x01garbage" * 10)
        fresh = os.path.join(tmp, "db2")
        rc, out, _ = run("--db", fresh, "ingest", "--json", junk, files[0])
        objs2 = json_lines(out)
        check(rc == 1 and objs2[0]["error"] and objs2[1]["error"] is None and objs2[1]["reports"],
              "junk + good input: exit 1, junk has an error, good one stored", out)
        rc, out, _ = run("--db", fresh, "ingest", os.path.join(tmp, "does-not-exist.xml"))
        check(rc == 1 and "does-not-exist.xml" in out, "missing input file: exit 1 naming it", out)

        # mbox of two report mails (one ">From " quoted body line must not break it).
        mbox = os.path.join(tmp, "reports.mbox")
        with open(mbox, "wb") as out_f:
            for name in ("modoboa-google.eml", "modoboa-yahoo.eml"):
                out_f.write(b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n")
                with open(os.path.join(SAMPLES, name), "rb") as f:
                    out_f.write(f.read().replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n\n")
        rc, out, err = run("--db", os.path.join(tmp, "db3"), "ingest", "--json", mbox)
        obj = json_lines(out)[0]
        check(rc == 0 and len(obj["reports"]) == 2 and sum(r["messages"] for r in obj["reports"]) == 59,
              "mbox with two report mails: 2 reports, 59 messages", out + err)
        check(obj.get("messages") == 2, "mbox: the JSON line counts the messages read (2)", out)
        rc, out, err = run("--db", os.path.join(tmp, "db3"), "ingest", mbox)
        check(mbox + ": 2 messages read" in out, "mbox: the text output counts the messages read", out + err)

        # Maildir
        maildir = os.path.join(tmp, "Maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(maildir, sub))
        shutil.copy(os.path.join(SAMPLES, "modoboa-google.eml"), os.path.join(maildir, "new", "1.host"))
        shutil.copy(os.path.join(SAMPLES, "zewaren-report-with-gz.eml"), os.path.join(maildir, "cur", "2.host:2,S"))
        shutil.copy(os.path.join(SAMPLES, "modoboa-yahoo.eml"), os.path.join(maildir, "tmp", "3.host"))
        rc, out, err = run("--db", os.path.join(tmp, "db4"), "ingest", "--json", maildir)
        objs4 = json_lines(out)
        check(rc == 0 and len(objs4) == 2 and sum(len(o["reports"]) for o in objs4) == 2,
              "Maildir: cur/ and new/ read, tmp/ not", out + err)

        # A directory with entries that cannot be read: each gets its own line and error, the
        # good report is stored, the run goes on (before: one exception ended it without JSON);
        # a FIFO is refused, not waited on (before: blocked forever).
        mixed = os.path.join(tmp, "mixed")
        os.makedirs(os.path.join(mixed, "sub"))
        shutil.copy(os.path.join(SAMPLES, "modoboa-google.eml"), os.path.join(mixed, "sub", "good.eml"))
        os.mkfifo(os.path.join(mixed, "fifo"))
        os.symlink("loop-b", os.path.join(mixed, "loop-a"))
        os.symlink("loop-a", os.path.join(mixed, "loop-b"))
        rc, out, err = run("--db", os.path.join(tmp, "db5"), "ingest", "--json", mixed)
        objs5 = {os.path.basename(o["path"]): o for o in json_lines(out)}
        check(rc == 1 and set(objs5) == {"fifo", "loop-a", "loop-b", "good.eml"}, "directory: a line per entry", out + err)
        check(len(objs5.get("good.eml", {}).get("reports", [])) == 1 and objs5["good.eml"]["error"] is None,
              "directory: the good report stored beside the bad entries", out)
        check("not a regular file: refused" in (objs5.get("fifo", {}).get("error") or ""), "directory: FIFO refused", out)
        check("cannot read" in (objs5.get("loop-a", {}).get("error") or ""), "directory: symlink loop named", out)
        rc, out, err = run("--db", os.path.join(tmp, "db5"), "ingest", "--json", os.path.join(mixed, "fifo"))
        objs6 = json_lines(out)
        check(rc == 1 and len(objs6) == 1 and "a FIFO, not a regular file: refused" in (objs6[0]["error"] or ""),
              "a FIFO named on the command line is refused at once", out + err)

        # deliver: one message on stdin, sysexits for a pipe(8) transport.
        with open(os.path.join(SAMPLES, "modoboa-google.eml"), "rb") as f:
            mail = f.read()
        rc, out, err = run("--db", newdb(os.path.join(tmp, "db7")), "deliver", "--json", stdin=mail)
        obj = (json_lines(out) or [{}])[0]
        check(rc == 0 and [r["status"] for r in obj.get("reports", [])] == ["stored"], "deliver: stored, exit 0", out + err)
        rc, out, err = run("--db", newdb(os.path.join(tmp, "db7")), "deliver", "--json", stdin=mail)
        obj = (json_lines(out) or [{}])[0]
        reps = obj.get("reports", [{}])
        check(rc == 0 and reps[0].get("status") == "duplicate" and reps[0].get("duplicate_of") == reps[0].get("sequence")
              and "supersedes" not in reps[0], "deliver: the retry is a duplicate of the stored one, exit 0", out + err)
        rc, out, err = run("--db", newdb(os.path.join(tmp, "db7")), "deliver", stdin=b"From: a@b\nSubject: hi\n\nhello\n")
        check(rc == 65 and "no report" in err, "deliver: no report in the message: EX_DATAERR (65), reason on stderr", out + err)
        blocker = os.path.join(tmp, "not-a-dir")
        open(blocker, "w").close()
        rc, out, err = run("--db", os.path.join(blocker, "db"), "deliver", stdin=mail)
        check(rc == 75 and "temporary failure" in err, "deliver: the store cannot be opened: EX_TEMPFAIL (75)", out + err)

        # One decision for every way in (issue 10): a file, stdin and deliver classify an input
        # alike.  Before, deliver skipped any number of blank lines before a message and stored
        # what `ingest` refused as "not a report", and `ingest` took an mbox that opened with a
        # blank line for one mail (its second report was lost).
        with open(os.path.join(SAMPLES, "parsedmarc-zoho.xml"), "rb") as f:
            xml = f.read()
        with open(os.path.join(SAMPLES, "modoboa-google.eml"), "rb") as f:
            eml = f.read()
        html = b"<!DOCTYPE html>\n<html><body><p>Your DMARC report</p></body></html>\n"
        cases = [("report XML", xml, True), ("XML after 5000 blank bytes", b"\n" * 5000 + xml, False),
                 ("mail after blank lines", b"\n \n\r\n" + eml, True),
                 ("mail after 5000 blank bytes", b"\n" * 5000 + eml, False), ("HTML page", html, False)]
        for n, (name, data, want) in enumerate(cases):
            path = os.path.join(tmp, f"same{n}")
            with open(path, "wb") as f:
                f.write(data)
            got = {}
            for way, args, stdin in (("file", ("ingest", "--json", path), None), ("stdin", ("ingest", "--json", "-"), data),
                                     ("deliver", ("deliver", "--json"), data)):
                rc, out, err = run("--db", newdb(os.path.join(tmp, f"db-same{n}")), *args, stdin=stdin)
                obj = (json_lines(out) or [{}])[0]
                got[way] = (rc == 0 and bool(obj.get("reports")), obj.get("error"))
            check(all(found == want for found, _ in got.values()),
                  f"{name}: {'stored' if want else 'refused'} as a file, on stdin and by deliver", got)
        mbox = b"\n" + b"".join(b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n" + m.replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n\n"
                                for m in (eml, xml))
        with open(os.path.join(tmp, "lead.mbox"), "wb") as f:
            f.write(mbox)
        for way, args, stdin in (("file", ("ingest", "--json", os.path.join(tmp, "lead.mbox")), None),
                                 ("stdin", ("ingest", "--json", "-"), mbox)):
            rc, out, err = run("--db", newdb(os.path.join(tmp, f"db-lead-{way}")), *args, stdin=stdin)
            obj = (json_lines(out) or [{}])[0]
            check(rc == 0 and len(obj.get("reports", [])) == 2 and obj.get("messages") == 2,
                  f"an mbox opening with a blank line ({way}): 2 messages, 2 reports", out + err)
        rc, out, err = run("--db", newdb(os.path.join(tmp, "db-lead-deliver")), "deliver", "--json",
                           stdin=b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n" + eml)
        obj = (json_lines(out) or [{}])[0]
        check(rc == 0 and len(obj.get("reports", [])) == 1 and "messages" not in obj,
              "deliver: a From_ line (pipe flag F) heads one message", out + err)

        # reports and status
        rc, out, _ = run("--db", db, "reports", "--json")
        reports = json.loads(out)["reports"]
        check(rc == 0 and len(reports) == stored, f"reports --json lists {stored} reports", f"got {len(reports)}")
        rc, out, _ = run("--db", db, "reports", "--json", "--domain", "ngyn.org")
        ngyn = json.loads(out)["reports"]
        check(rc == 0 and len(ngyn) == 2 and all(r["domain"] == "ngyn.org" for r in ngyn), "reports --domain filters")
        rc, out, _ = run("--db", db, "reports")
        check(rc == 0 and f"{stored} reports" in out, "reports table")

        rc, out, _ = run("--db", db, "status", "--since", "all", "--json")
        status = json.loads(out)
        domains = {d["domain"]: d for d in status["domains"]}
        want_msgs = sum(r["messages"] for r in reports)
        got_msgs = sum(d["messages"] for d in status["domains"])
        check(rc == 0 and got_msgs == want_msgs, f"status --since all: {got_msgs} messages over {len(domains)} domains",
              f"want {want_msgs}")
        consistent = all(d["dmarc_pass"] + d["dmarc_fail"] == d["messages"] and
                         sum(s["messages"] for s in d["services"]) == d["messages"] for d in status["domains"])
        check(consistent, "status: pass + fail = messages, services add up")
        ngyn_msgs = sum(r["messages"] for r in ngyn)
        rc, out, _ = run("--db", db, "status", "ngyn.org", "--since", "all", "--json")
        one = json.loads(out)["domains"]
        check(rc == 0 and len(one) == 1 and one[0]["messages"] == ngyn_msgs, f"status DOMAIN: {ngyn_msgs} messages")
        # The default window: the 30 days ending today, wherever the reports are.  Today is
        # pinned to the day the newest report ends (DMARCWATCH_NOW).
        newest = max(reports, key=lambda r: r["end"])
        now = newest["end"] - newest["end"] % 86400 + 43200
        today, week_start = day_of(now), day_of(now - 29 * 86400)
        rc, out, _ = run("--db", db, "status", "--json", now=now)
        default = {d["domain"]: d for d in json.loads(out)["domains"]}
        check(rc == 0 and set(default) == set(domains) and
              all(d["from"] == week_start and d["to"] == today for d in default.values()),
              f"status without --since: every domain, {week_start} .. {today}", out[:300])
        check(default[newest["domain"]]["messages"] > 0 and
              all(d["newest"] is not None and (d["messages"] > 0 or d["newest"] < week_start)
                  for d in default.values()),
              "status: domains without reports in the window have messages 0 and their newest day")
        quiet = sorted(d for d, v in default.items() if v["messages"] == 0)
        rc, out, _ = run("--db", db, "status", now=now)
        check(rc == 0 and "READINESS" in out and
              all(f"{d}: no reports in this window; newest {default[d]['newest']}" in out for d in quiet),
              f"status table, {len(quiet)} domains noted as without reports in the window", out[:300])

        # A report dated after today (a reporter's clock) does not move the window.
        future_begin = now - now % 86400 + 30 * 86400
        future = report_file(tmp, newest["domain"], "future-1", future_begin, 5000)
        rc, out, err = run("--db", db, "ingest", "--json", future)
        check(rc == 0 and json_lines(out)[0]["reports"][0]["status"] == "stored", "ingest a future-dated report",
              out + err)
        rc, out, _ = run("--db", db, "status", "--json", newest["domain"], now=now)
        after = json.loads(out)["domains"][0]
        before = default[newest["domain"]]
        check(rc == 0 and (after["from"], after["to"], after["messages"]) == (week_start, today, before["messages"])
              and after["newest"] == day_of(future_begin),
              "status: a future-dated report moves neither the window nor its numbers", out[:300])
        rc, out, _ = run("--db", db, "status", "--json", "--since", "all", newest["domain"], now=now)
        check(rc == 0 and json.loads(out)["domains"][0]["messages"] == before["messages"] + 5000 and
              json.loads(out)["domains"][0]["to"] == day_of(future_begin),
              "status --since all counts it")
        # The real clock: the default window ends today.
        real_before = day_of(int(datetime.datetime.now(datetime.timezone.utc).timestamp()))
        rc, out, _ = run("--db", db, "status", "--json")
        real_after = day_of(int(datetime.datetime.now(datetime.timezone.utc).timestamp()))
        check(rc == 0 and all(d["to"] in (real_before, real_after) for d in json.loads(out)["domains"]),
              "status without DMARCWATCH_NOW: the window ends today (UTC)", out[:200])
        rc, _, err = run("--db", db, "status", "--since", day_of(now + 86400), now=now)
        check(rc == 2, "status --since a date after today: exit 2", err)
        rc, _, err = run("--db", db, "status", "--top", "ten")
        check(rc == 2, "status --top junk: exit 2", err)
        rc, _, err = run("--db", db, "status", "--since", "yesterday-ish")
        check(rc == 2, "status --since junk: exit 2", err)

        # The store itself: verify, a conflict, reindex from the archive.
        rc, out, _ = run("--db", db, "reports", "--json")
        active = [r for r in json.loads(out)["reports"] if r["state"] == "active"]
        stored, want_msgs = len(active), sum(r["messages"] for r in active)
        rc, out, err = run("--db", db, "db", "verify")
        check(rc == 0 and ": ok" in out, "db verify: ok", out + err)
        rc, out, _ = run("--db", db, "db", "verify", "--json")
        check(rc == 0 and json.loads(out)["ok"] is True, "db verify --json")
        rc, _, err = run("--db", db, "db", "nonsense")
        check(rc == 2 and "usage" in err, "db without a known subcommand: exit 2", err)
        rc, out, _ = run("--db", db, "db", "upgrade")
        check(rc == 0 and "nothing to upgrade" in out, "db upgrade on a current store", out)
        one_report = [p for p in files if p.endswith(".xml")][0]
        with open(one_report, "rb") as f:
            original = f.read()
        forged = original.replace(b"<count>", b"<count>9", 1)
        rc, out, _ = run("--db", db, "ingest", "--json", "-", stdin=forged)
        obj = json_lines(out)[0] if out.strip() else {}
        conflict = obj.get("reports") and obj["reports"][0]["status"] == "conflict"
        check(rc == 1 and conflict and "conflicts with stored report" in (obj.get("error") or ""),
              "same key, other records: a conflict, exit 1, not counted", out)
        rc, out, _ = run("--db", db, "status", "--since", "all", "--json")
        before = json.loads(out)
        check(sum(d["messages"] for d in before["domains"]) == want_msgs, "the conflict left the totals alone")
        rc, out, _ = run("--db", db, "reports", "--json")
        states = [r["state"] for r in json.loads(out)["reports"]]
        check(states.count("conflict") == 1 and states.count("active") == stored, f"reports show states {sorted(set(states))}")
        rc, out, err = run("--db", db, "reindex", "--json")
        result = json.loads(out) if rc == 0 else {}
        check(rc == 0 and result.get("payloads_parsed", 0) > 0 and os.path.isdir(result.get("old_store", "")),
              f"reindex: {result.get('payloads_parsed')} payloads parsed again, old store kept", out + err)
        rc, out, _ = run("--db", db, "status", "--since", "all", "--json")
        after = json.loads(out)
        check(rc == 0 and after == before, "status --json --since all is the same after reindex",
              f"{len(before['domains'])} domains before, {len(after['domains'])} after")
        rc, out, _ = run("--db", db, "reports", "--json")
        states = [r["state"] for r in json.loads(out)["reports"]]
        check(states.count("conflict") == 1 and states.count("active") == stored, "reindex keeps the conflict apart")
        rc, out, _ = run("--db", db, "db", "verify")
        check(rc == 0, "db verify after reindex", out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
