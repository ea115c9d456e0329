#!/usr/bin/env python3
"""dmarcwatchd's alerts through the programs, without root: reports ingested with
`dmarcwatch ingest`, `dmarcwatchd --once` sends the alerts to a UDP syslog
listener of this test (SyslogTarget udp:127.0.0.1:PORT, RFC 5424), and
`dmarcwatch alerts` lists them.

Checks: the lines are RFC 5424 with the rule as MSGID and the structured data
(rule, domain, service, messages, severity as PRI); `alerts` text and JSON agree
with what syslog received; a second pass sends nothing again; a daemon killed
(DMARCWATCHD_TEST_KILL) right after recording, and one killed after sending the
first alert, leave the rest to the next pass, and every alert arrives exactly
once; a syslog that does not listen (TCP refused) keeps them pending for later;
the usage errors of `alerts`.
Environment: DMARCWATCH, DMARCWATCHD (binaries), SRCDIR (source tree)."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, finish  # noqa: E402

SRCDIR = os.environ.get("SRCDIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("DMARCWATCH", os.path.join(os.getcwd(), "collector", "cli", "dmarcwatch"))
DAEMON = os.environ.get("DMARCWATCHD", os.path.join(os.getcwd(), "collector", "daemon", "dmarcwatchd"))
SD = re.compile(r'^<(\d+)>1 \S+ \S+ (\S+) \d+ (\S+) \[dmarcwatch@32473 ((?:[^\]\\]|\\.)*)\] (.*)$')


def run(conf, *args):
    p = subprocess.run([BIN, "-c", conf, *args], capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def daemon_once(conf, kill=None):
    env = dict(os.environ)
    env.pop("DMARCWATCHD_TEST_KILL", None)
    if kill:
        env["DMARCWATCHD_TEST_KILL"] = kill
    p = subprocess.run([DAEMON, "-c", conf, "-f", "--once"], capture_output=True, timeout=60, env=env)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def record(ip, count, dkim, evaluated, spf=None, selector="dw1"):
    auth = "<dkim><domain>%s</domain><selector>%s</selector><result>%s</result></dkim>" % (dkim[0], selector, dkim[1])
    if spf:
        auth += "<spf><domain>%s</domain><result>%s</result></spf>" % spf
    return ("<record><row><source_ip>%s</source_ip><count>%d</count><policy_evaluated><disposition>none</disposition>"
            "<dkim>%s</dkim><spf>%s</spf></policy_evaluated></row><identifiers><header_from>%s</header_from>"
            "</identifiers><auth_results>%s</auth_results></record>" % (ip, count, evaluated[0], evaluated[1], DOMAIN, auth))


DOMAIN = "alerts.example"


def report(report_id, rows, org="google.com"):
    now = int(time.time())
    return ('<?xml version="1.0"?><feedback><report_metadata><org_name>%s</org_name><email>noreply@%s</email>'
            "<report_id>%s</report_id><date_range><begin>%d</begin><end>%d</end></date_range></report_metadata>"
            "<policy_published><domain>%s</domain><p>none</p></policy_published>%s</feedback>"
            % (org, org, report_id, now - 86400, now - 1, DOMAIN, "".join(rows)))


class Listener:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.lines = []

    def drain(self):
        while True:
            try:
                self.lines.append(self.sock.recv(65536).decode("utf-8"))
            except socket.timeout:
                return self.lines


def parse(line):
    m = SD.match(line)
    if not m:
        return None
    fields = dict((k, v.replace('\\"', '"').replace("\\]", "]").replace("\\\\", "\\"))
                  for k, v in re.findall(r'(\S+?)="((?:[^"\\]|\\.)*)"', m.group(4)))
    return {"pri": int(m.group(1)), "app": m.group(2), "msgid": m.group(3), "sd": fields, "message": m.group(5)}


def main():
    tmp = tempfile.mkdtemp(prefix="dw-alerts-")
    listener = Listener()
    try:
        db = os.path.join(tmp, "db")
        os.mkdir(db)
        conf = os.path.join(tmp, "dw.conf")
        with open(conf, "w") as f:
            f.write("Database %s\nServiceCatalog %s\nSyslogTarget udp:127.0.0.1:%d\nAuthorize %s sendgrid\n"
                    "AlertFacility local3\n" % (db, os.path.join(SRCDIR, "contrib", "services"), listener.port, DOMAIN))
        path = os.path.join(tmp, "r1.xml")
        with open(path, "w") as f:
            f.write(report("a1", [
                record("203.0.113.9", 40, ("spoofer.example", "pass"), ("fail", "fail"), ("spoofer.example", "pass")),
                record("192.0.2.7", 25, (DOMAIN, "pass"), ("pass", "pass"), (DOMAIN, "pass")),
                record("198.51.100.7", 30, ("sendgrid.net", "pass"), ("fail", "fail"), ("sendgrid.net", "pass"))]))
        rc, out, err = run(conf, "ingest", path)
        check(rc == 0, "the report is stored", err)

        rc, out, err = daemon_once(conf)
        check(rc == 0 and re.search(r"^reports 1, domains 1, alerts 3 \(0 in summaries\), sent 3, unsent 0$", out, re.M),
              "dmarcwatchd --once: one report, three alerts sent", (rc, out, err))
        got = [parse(x) for x in listener.drain()]
        check(len(got) == 3 and all(got), "syslog received three RFC 5424 lines with our structured data",
              listener.lines)
        by_rule = {g["sd"]["rule"]: g for g in got if g}
        check(sorted(by_rule) == ["enforcement-blocker", "spoofing", "unknown-sender"], "the rules", sorted(by_rule))
        s = by_rule.get("spoofing", {"sd": {}})
        check(s.get("msgid") == "spoofing" and s.get("app") == "dmarcwatch" and s["sd"].get("domain") == DOMAIN
              and s["sd"].get("messages") == "40" and s["sd"].get("top_ip") == "203.0.113.9"
              and s.get("pri") == 19 * 8 + 4,
              "spoofing: MSGID, app, domain, messages, largest source, PRI local3.warning", s)
        b = by_rule.get("enforcement-blocker", {"sd": {}})
        check(b["sd"].get("service") == "Twilio SendGrid" and b["sd"].get("class") == "authorized"
              and b["sd"].get("pass_pct") == "0.0" and "sendgrid.net" in b["sd"].get("why", ""),
              "enforcement-blocker: the authorized service, its pass rate and why", b)
        u = by_rule.get("unknown-sender", {"sd": {}})
        check(u["sd"].get("ip") == "192.0.2.7" and u["sd"].get("identity") == DOMAIN,
              "unknown-sender: the unnamed source passing as the domain", u)
        ids = sorted(g["sd"]["id"] for g in got if g)

        rc, out, err = run(conf, "alerts", "--json")
        listed = json.loads(out)["alerts"] if rc == 0 else []
        check(sorted(a["id"] for a in listed) == ids and all(a["state"] == "sent" for a in listed),
              "alerts --json lists the same ids, all sent", out)
        check(all(a["fields"].get("messages") for a in listed if a["rule"] != "unknown-sender"),
              "alerts --json carries the fields", out)
        rc, out, err = run(conf, "alerts", DOMAIN)
        check(rc == 0 and out.count(" sent\n") == 3 and "spoofing" in out, "alerts DOMAIN: a text line each", out)
        # The text fits the terminal: the message wrapped under its heading line (at 40 the
        # headings cannot fit, their domain kept to 8 characters; the messages still do).
        for columns in (40, 80, 200):
            os.environ["COLUMNS"] = str(columns)
            rc, out, err = run(conf, "alerts", DOMAIN)
            del os.environ["COLUMNS"]
            lines = out.splitlines()
            widest = max((len(line) for line in lines if columns > 40 or line.startswith("    ")), default=0)
            check(rc == 0 and widest <= columns and len(re.findall(r"^\d.*  sent$", out, re.M)) == 3,
                  f"alerts at COLUMNS={columns}: no {'message ' if columns == 40 else ''}line wider ({widest})", out)

        rc, out, err = daemon_once(conf)
        listener.drain()
        check(rc == 0 and len(listener.lines) == 3 and "alerts 0 " in out, "a second pass sends nothing again",
              (out, listener.lines[3:]))

        # A kill right after recording, and one after the first alert was sent.
        for kill, name in (("recorded", "after recording"), ("sent:1", "after the first alert")):
            before = len(listener.drain())
            path = os.path.join(tmp, "r-%s.xml" % kill.replace(":", ""))
            with open(path, "w") as f:
                f.write(report("k-" + kill, [record("203.0.113.%d" % n, 30, ("x%d.example" % n, "pass"), ("pass", "pass"),
                                                   ("x%d.example" % n, "pass")) for n in range(20, 23)],
                               org="Yahoo"))
            run(conf, "ingest", path)
            rc, out, err = daemon_once(conf, kill)
            check(rc == -9, f"killed {name} (SIGKILL)", (rc, err))
            rc2, out2, _ = run(conf, "alerts", "--pending", "--json")
            pending = json.loads(out2)["alerts"] if rc2 == 0 else []
            sent_now = len(listener.drain()) - before
            check(len(pending) + sent_now == 3 and len(pending) >= 2, f"{name}: the rest is pending",
                  (len(pending), sent_now))
            rc, out, err = daemon_once(conf)
            lines = listener.drain()[before:]
            new_ids = [parse(x)["sd"]["id"] for x in lines if parse(x)]
            check(rc == 0 and len(new_ids) == 3 and len(set(new_ids)) == 3, f"{name}: each alert arrives exactly once",
                  lines)
            rc2, out2, _ = run(conf, "alerts", "--pending", "--json")
            check(json.loads(out2)["alerts"] == [], f"{name}: nothing pending after the next pass", out2)

        # Nobody listening on TCP: the alert stays pending, sent when syslog is back.
        tcp = socket.socket()
        tcp.bind(("127.0.0.1", 0))
        port = tcp.getsockname()[1]
        conf2 = os.path.join(tmp, "tcp.conf")
        with open(conf, "r") as f:
            text = f.read().replace("udp:127.0.0.1:%d" % listener.port, "tcp:127.0.0.1:%d" % port)
        with open(conf2, "w") as f:
            f.write(text)
        path = os.path.join(tmp, "r-tcp.xml")
        with open(path, "w") as f:
            f.write(report("t1", [record("203.0.113.50", 300, ("evil.example", "pass"), ("fail", "fail"))], org="Mail.Ru"))
        run(conf2, "ingest", path)
        rc, out, err = daemon_once(conf2)
        check(rc == 0 and re.search(r"sent 0, unsent [1-9]", out), "TCP refused: nothing sent, the alerts unsent", out)
        rc, out, err = run(conf2, "alerts", "--pending")
        check(rc == 0 and "pending" in out, "alerts --pending shows them", out)
        tcp.listen(4)
        rc, out, err = daemon_once(conf2)
        check(rc == 0 and re.search(r"sent [1-9]\d*, unsent 0", out), "syslog back: the pending alerts are sent", out)
        tcp.settimeout(2)
        try:
            conn, _ = tcp.accept()
            conn.settimeout(1)
            data = conn.recv(65536).decode()
        except OSError:
            data = ""
        check(re.match(r"^\d+ <\d+>1 ", data) is not None and "spoofing" in data,
              "over TCP with octet counting", data[:200])

        # Usage.
        rc, out, err = run(conf, "alerts", "nosuch.example")
        check(rc == 2 and "nosuch.example" in err, "alerts: a domain without reports is an error (exit 2)", err)
        rc, out, err = run(conf, "alerts", "--since", "yesterday")
        check(rc == 2 and "yesterday" in err, "alerts: a bad --since is an error (exit 2)", err)
        rc, out, err = run(conf, "alerts", "--bogus")
        check(rc == 2 and "--bogus" in err, "alerts: an unknown option is an error (exit 2)", err)
        rc, out, err = run(conf, "alerts", "--help")
        check(rc == 0 and out.startswith("Usage: dmarcwatch alerts"), "alerts --help", out)
        empty = os.path.join(tmp, "empty.conf")
        os.mkdir(os.path.join(tmp, "db2"))
        with open(empty, "w") as f:
            f.write("Database %s\n" % os.path.join(tmp, "db2"))
        rc, out, err = run(empty, "alerts")
        check(rc == 1 and "no store" in err, "alerts without a store: says so (exit 1)", (rc, err))
        run(empty, "db", "upgrade")
        rc, out, err = run(empty, "alerts")
        check(rc == 0 and out.startswith("no alerts since "), "alerts on an empty store", (out, err))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
