#!/usr/bin/env python3
"""The options every `dmarcwatch` command shares: COMMAND --help (and -h, and
`help COMMAND`) without a config or a store; usage errors that say what is
accepted (exit 2); --csv matching --json; tables that fit COLUMNS; colour on
a terminal only.
Prints one line per check and ends with "N passed, M failed"."""
import csv
import io
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, finish  # noqa: E402

SRCDIR = os.environ.get("SRCDIR", ".")
BUILDDIR = os.environ.get("BUILDDIR", ".")
BIN = os.path.join(BUILDDIR, "collector", "cli", "dmarcwatch")
SAMPLES = os.path.join(SRCDIR, "t", "data", "samples")
ANSI = re.compile(r"\x1b\[[0-9;]*m")

# Each help topic, the words its synopsis starts with, and every option its parser accepts.
TOPICS = {
    "ingest": ["--json"],
    "reports": ["--domain", "--json"],
    "status": ["--domain", "--since", "--top", "--json", "--csv", "--policy", "--pct", "--spf"],
    "report": ["--html", "--since"],
    "sources": ["--domain", "--since", "--unknown", "--failing", "--service", "--limit", "--json", "--csv"],
    "services": ["--domain", "--since", "--json", "--csv"],
    "alerts": ["--domain", "--since", "--pending", "--json"],
    "db": ["verify", "upgrade", "enrichment", "--json"],
    "db verify": ["--json"],
    "db upgrade": [],
    "db enrichment": ["--json"],
    "reindex": ["--json"],
    "deliver": ["--json"],
    "help": ["COMMAND"],
}


def run(*args, env=None, stdin=None):
    full = dict(os.environ)
    for name in ("COLUMNS", "NO_COLOR", "DMARCWATCH_NOW"):
        full.pop(name, None)
    full.update(env or {})
    p = subprocess.run([BIN, *args], input=stdin, capture_output=True, timeout=60, env=full)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def run_on_terminal(args, env, columns=100):
    """Run with stdout on a pseudo-terminal of the given width; (exit status, output with CRLF undone)."""
    import fcntl
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    full = dict(os.environ)
    for name in ("COLUMNS", "NO_COLOR"):
        full.pop(name, None)
    full.update(env)
    p = subprocess.Popen([BIN, *args], stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=full)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    rc = p.wait(timeout=60)
    p.stderr.close()
    return rc, b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def undefused(cell):
    """A CSV cell without the quote that defuses a formula."""
    return cell[1:] if cell[:2] in ("'=", "'+", "'-", "'@") else cell


def longest(text):
    return max((len(ANSI.sub("", line)) for line in text.splitlines()), default=0)


def report_xml(begin, rows, report_id, domain="example.com"):
    """One report for domain: rows are (ip, count, dkim_domain or None, passing)."""
    records = ""
    for ip, count, dkim, passing in rows:
        result = "pass" if passing else "fail"
        auth = "<dkim><domain>%s</domain><result>%s</result></dkim>" % (dkim, result) if dkim else ""
        auth += "<spf><domain>%s</domain><result>%s</result></spf>" % (domain, result)
        records += ("<record><row><source_ip>%s</source_ip><count>%d</count><policy_evaluated>"
                    "<disposition>none</disposition><dkim>%s</dkim><spf>%s</spf></policy_evaluated></row>"
                    "<identifiers><header_from>%s</header_from></identifiers><auth_results>%s</auth_results>"
                    "</record>" % (ip, count, result, result, domain, auth))
    return ('<?xml version="1.0"?><feedback><report_metadata><org_name>google.com</org_name>'
            "<email>noreply@google.com</email><report_id>%s</report_id><date_range><begin>%d</begin>"
            "<end>%d</end></date_range></report_metadata><policy_published><domain>%s</domain>"
            "<p>none</p></policy_published>%s</feedback>\n" % (report_id, begin, begin + 86399, domain, records))


def main():
    tmp = tempfile.mkdtemp(prefix="dmarcwatch-options.")
    try:
        # --help for every command: no config file (-c names a missing one), no store.
        missing_conf = os.path.join(tmp, "no-such.conf")
        missing_db = os.path.join(tmp, "no-such-db")
        for topic, options in TOPICS.items():
            words = topic.split()
            rc, out, err = run("-c", missing_conf, "--db", missing_db, *words, "--help")
            check(rc == 0 and out.startswith("Usage: dmarcwatch " + topic) and "Exit status" in out and not err,
                  f"{topic} --help: exit 0, synopsis, exit statuses, without config or store", (rc, out[:200], err))
            absent = [o for o in options if o not in out]
            check(not absent, f"{topic} --help names every option its parser takes", absent)
            rc2, out2, _ = run("-c", missing_conf, *words, "-h")
            rc3, out3, _ = run("-c", missing_conf, "help", *words)
            check(rc2 == 0 and rc3 == 0 and out2 == out == out3, f"{topic}: -h and help {topic} print the same", out2[:100])
        check(not os.path.exists(missing_db), "no --help created the store")
        rc, out, err = run("db", "verify", "--json", "--help")
        check(rc == 0 and out.startswith("Usage: dmarcwatch db verify"), "db verify --json --help: the subcommand's usage", out + err)
        rc, out, err = run("help", "frobnicate")
        check(rc == 2 and "unknown command 'frobnicate'" in err and not out, "help of an unknown command: exit 2", err)
        rc, out, err = run("frobnicate", "--help")
        check(rc == 2 and "unknown command" in err, "unknown command --help: exit 2", err)
        rc, out, _ = run("help")
        check(rc == 0 and "help COMMAND" in out and "COLUMNS" in out, "help alone: the command list", out[:200])
        # The per-command text lives in one place: alerts no longer carries its own.
        rc, out, _ = run("alerts", "--help")
        check(rc == 0 and "Options before COMMAND" in out, "alerts --help comes from the one table", out[-200:])

        # A store of the samples plus one report of our own; a config naming a network whose name
        # needs CSV quoting and defusing (a comma, quotes, a leading =).
        tricky = '=HYPERLINK("http://x.example"), "office"'
        conf = os.path.join(tmp, "dmarcwatch.conf")
        os.makedirs(os.path.join(tmp, "db"), exist_ok=True)  # a configured Database must exist
        with open(conf, "w") as f:
            f.write("Database %s\nServiceCatalog %s\nNetwork 192.0.2.128/25 = %s\n"
                    % (os.path.join(tmp, "db"), os.path.join(SRCDIR, "contrib", "services"), tricky))
        samples = sorted(os.path.join(SAMPLES, n) for n in os.listdir(SAMPLES) if not n.endswith(".tsv"))
        begin = (int(time.time()) // 86400 - 1) * 86400
        ours = os.path.join(tmp, "ours.xml")
        with open(ours, "w") as f:
            f.write(report_xml(begin, [("192.0.2.130", 70, None, True), ("198.51.100.5", 500, None, False),
                                       ("192.0.2.20", 30, "example.com", True),
                                       ("2001:db8:ffff:ffff:ffff:ffff:ffff:1", 4, "a-very-long-signing-domain.example",
                                        False)], "options-1"))
        rc, out, err = run("-c", conf, "ingest", *samples, ours)
        check(rc == 0, f"ingest {len(samples) + 1} reports", out[-300:] + err)
        rc, out, _ = run("-c", conf, "reports", "--json")
        domains = sorted({r["domain"] for r in json.loads(out)["reports"]}) if rc == 0 else []
        check(len(domains) > 5, f"the store holds {len(domains)} domains", domains)

        # Unknown domains: exit 2, the domain named, a few known ones listed.
        for args in (["sources", "x.example"], ["services", "--domain", "x.example"],
                     ["reports", "--domain", "x.example"], ["alerts", "x.example"]):
            rc, out, err = run("-c", conf, *args)
            check(rc == 2 and f"dmarcwatch {args[0]}: no reports stored for domain 'x.example' (known: {domains[0]}, "
                  in err and f"and {len(domains) - 5} more)" in err and not out,
                  f"{args[0]}: an unknown domain is exit 2 with the known ones", err)
        rc, out, err = run("-c", conf, "sources", "--json", "--since", "all", "EXAMPLE.com")
        check(rc == 0 and json.loads(out)["sources"], "sources: the domain in any case", err)

        # Bad values say what is accepted.
        for value in ("ten", "0", "-1", "1000001", "5x"):
            rc, out, err = run("-c", conf, "sources", "--limit", value)
            check(rc == 2 and f"--limit '{value}' is not a number from 1 to 1000000" in err,
                  f"sources --limit {value}: exit 2, the range said", err)
        rc, out, _ = run("-c", conf, "sources", "--json", "--since", "all", "--limit", "2")
        check(rc == 0 and len(json.loads(out)["sources"]) == 2, "sources --limit 2 keeps 2", out[:200])
        for command in ("sources", "services", "alerts"):
            rc, out, err = run("-c", conf, command, "--since", "yesterday")
            check(rc == 2 and "--since 'yesterday'" in err and "Nd" in err and "YYYY-MM-DD" in err and "all" in err,
                  f"{command} --since junk: exit 2, the forms listed", err)
        for words, want_rc in ((["ingest"], 2), (["reports"], 2), (["sources"], 2), (["services"], 2), (["alerts"], 2),
                               (["reindex"], 2), (["db", "verify"], 2), (["db", "enrichment"], 2),
                               (["db", "upgrade"], 2), (["deliver"], 64)):
            rc, out, err = run("-c", conf, *words, "--bogus")
            topic = " ".join(words)
            check(rc == want_rc and "'--bogus'" in err and f"dmarcwatch {topic} --help" in err,
                  f"{topic} --bogus: exit {want_rc}, names it and points at {topic} --help", err)
        rc, out, err = run("-c", conf, "db", "nonsense")
        check(rc == 2 and "unknown subcommand 'nonsense'" in err and "db --help" in err, "db nonsense: exit 2", err)
        for command in ("sources", "services"):
            rc, out, err = run("-c", conf, command, "--json", "--csv")
            check(rc == 2 and "--json and --csv" in err, f"{command} --json --csv: exit 2", err)

        # CSV: parses, a header row, the numbers of the JSON.
        rc, out, err = run("-c", conf, "sources", "--csv", "--since", "all")
        rows = list(csv.DictReader(io.StringIO(out))) if rc == 0 else []
        rc, jout, _ = run("-c", conf, "sources", "--json", "--since", "all")
        sources = json.loads(jout)["sources"]
        check(rc == 0 and len(rows) == len(sources) > 10, f"sources --csv: {len(rows)} rows, one per source", err)
        scalar = [k for k, v in sources[0].items() if not isinstance(v, (list, dict))]
        check(rows and list(rows[0])[0] == "domain" and all(k in rows[0] for k in scalar),
              "sources --csv: the domain first, every scalar JSON field a column", list(rows[0]) if rows else out[:200])
        same = all(r["domain"] == s["domain"] and r["ip"] == (s["ip"] or "") and
                   (int(r["messages"]), int(r["dmarc_pass"]), int(r["dmarc_fail"])) ==
                   (s["messages"], s["dmarc_pass"], s["dmarc_fail"]) for r, s in zip(rows, sources))
        check(same, "sources --csv: domain, ip and counts as --json")
        office = [r for r in rows if r["ip"] == "192.0.2.130"]
        check(office and office[0]["service"] == "'" + tricky, "CSV: a formula cell gets a leading ', commas and quotes survive",
              office[0]["service"] if office else "no row")
        check('"\'=HYPERLINK(""http://x.example""), ""office"""' in out, "CSV: the cell is quoted, its quotes doubled")
        check("\r" not in out and out.endswith("\n"), "CSV: LF line ends")
        rc, out, err = run("-c", conf, "services", "--csv", "--since", "all")
        rows = list(csv.DictReader(io.StringIO(out))) if rc == 0 else []
        rc, jout, _ = run("-c", conf, "services", "--json", "--since", "all")
        flat = [(d["domain"], s) for d in json.loads(jout)["domains"] for s in d["services"]]
        same = len(rows) == len(flat) > 5 and all(
            r["domain"] == dom and undefused(r["name"]) == s["name"] and int(r["messages"]) == s["messages"] and
            int(r["dmarc_fail"]) == s["dmarc_fail"] and int(r["sources"]) == s["sources"] for r, (dom, s) in zip(rows, flat))
        check(same and list(rows[0])[:3] == ["domain", "id", "name"], f"services --csv: {len(rows)} rows as --json", out[:300])

        # Tables fit COLUMNS; at 40, only where even the minimum widths do not fit (the COLUMNS=20 layout).
        for args in (["sources", "--since", "all"], ["services", "--since", "all"], ["reports"]):
            outputs = {}
            for columns in (20, 40, 80, 200):
                rc, out, err = run("-c", conf, *args, env={"COLUMNS": str(columns), "TERM": "xterm"})
                outputs[columns] = out
            name = args[0]
            check(longest(outputs[80]) <= 80 and longest(outputs[200]) <= 200,
                  f"{name}: no line over COLUMNS=80 or 200 ({longest(outputs[80])}, {longest(outputs[200])})")
            check(longest(outputs[200]) > longest(outputs[80]), f"{name}: COLUMNS=200 uses the room")
            check(longest(outputs[40]) <= 40 or outputs[40] == outputs[20],
                  f"{name}: COLUMNS=40 fits, or is the narrowest layout ({longest(outputs[40])})")
            check("\x1b[" not in "".join(outputs.values()), f"{name}: no colour into a pipe, even with TERM=xterm")
        rc, out, _ = run("-c", conf, "services", "--since", "all", env={"COLUMNS": "80"})
        check("..." in out, "services: a long name shortened at COLUMNS=80", out)
        rc, out, _ = run("-c", conf, "services", "--since", "all", env={"COLUMNS": "5000"})
        rc2, out2, _ = run("-c", conf, "services", "--since", "all", env={"COLUMNS": "80"})
        check(out == out2, "COLUMNS out of range (5000): 80 columns")

        # Colour on a terminal only, and never with NO_COLOR or TERM=dumb; the terminal's width.
        args = ["-c", conf, "sources", "--since", "all"]
        rc, out = run_on_terminal(args, {"TERM": "xterm"}, columns=100)
        check(rc == 0 and "\x1b[31m" in out and "\x1b[0m" in out, "sources on a terminal: failing counts in red", out[:300])
        check(longest(out) <= 100 and longest(out) > 80, f"the terminal's width (100) without COLUMNS ({longest(out)})")
        rc, out = run_on_terminal(args, {"TERM": "xterm", "NO_COLOR": "1"})
        check(rc == 0 and "\x1b[" not in out and "SOURCE" in out, "NO_COLOR=1: no colour on a terminal", out[:300])
        rc, out = run_on_terminal(args, {"TERM": "dumb"})
        check(rc == 0 and "\x1b[" not in out, "TERM=dumb: no colour", out[:300])
        rc, out = run_on_terminal(["-c", conf, "sources", "--csv", "--since", "all"], {"TERM": "xterm"})
        check(rc == 0 and "\x1b[" not in out, "--csv on a terminal: no colour", out[:300])
        rc, out = run_on_terminal(["-c", conf, "services", "--json", "--since", "all"], {"TERM": "xterm"})
        check(rc == 0 and "\x1b[" not in out and json.loads(out), "--json on a terminal: no colour", out[:300])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
