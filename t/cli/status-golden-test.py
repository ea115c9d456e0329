#!/usr/bin/env python3
"""Golden output of `dmarcwatch status`: text, JSON and CSV compared byte for byte
with the files under t/golden/status/, and the meaning of that output checked
apart, so that a regenerated golden file cannot hide a wrong number.

"Today" is pinned with DMARCWATCH_NOW (2024-12-31 12:00 UTC, tests only) and
the width with COLUMNS (100; one overview and one page at 80); stdout is a
pipe, so no colour.  JSON goldens are the document re-indented (json.dumps,
indent 2, key order kept) so that a diff shows the field; nothing else is
normalized (the output names no path).

1. Synthetic store (one daily report per domain and day, written here):
     spoofed.example    p=none, only failing mail from several addresses, and
                        one report 60 days old (outside the default 30 days)
     enforced.example   p=reject, own mail passes, SendGrid authorized but
                        signing as sendgrid.net: at enforcement, losing mail
     forwarded.example  p=none, own mail passes, most mail forwarded by lists
                        (reason forwarded, SPF of the list, the DKIM broken)
     ready.example      every authorized sender passes over 20 days: reject
     young.example      the same over 5 days: quarantine
     blocked.example    p=none, SendGrid authorized and failing: blocked by it
     sparse.example     every sender passes, but only two reports 20 days apart
     testing.example    p=reject t=y (RFC 9990: applied as quarantine), SendGrid
                        authorized and failing: its mail is quarantined now
   For each domain: the page, --json, --csv, --policy reject (text and JSON),
   --policy quarantine --pct 50; the overview; --since 7d against --since all;
   the domain filter; usage errors.  And an empty store.
2. Corpus store: the corpus reports under a permissive licence (MIT, BSD,
   Apache in MANIFEST.tsv) in one store; status --since all and two domains'
   pages.  Skipped (SKIP lines) when the corpus is absent ($CORPUS, else
   t/lib/find-corpus.sh).

Regenerate the golden files after an intended change of the output:
    STATUS_GOLDEN_UPDATE=1 make check TESTS=t/cli/status-golden-test.sh
(from the build directory; writes into the source tree's t/golden/status/),
then review `git diff t/golden`.  Without it a mismatch prints a unified diff
and fails.

Besides the goldens it checks what must hold whatever the wording: readiness
states, the what-if's sums, forwarded mail apart and classed forwarder, days
with data (not their span), p=reject t=y as enforcement, pass + fail =
messages, messages by authenticity = messages, CSV against JSON, lines within COLUMNS, verdicts readable in full.
Environment: SRCDIR, BUILDDIR (as make check sets them), CORPUS.
Prints one line per check and ends with "N passed, M failed"."""
import csv
import difflib
import io
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
GOLDEN = os.path.join(SRCDIR, "t", "golden", "status")
UPDATE = os.environ.get("STATUS_GOLDEN_UPDATE", "") not in ("", "0")

NOW = 1735646400            # 2024-12-31 12:00:00 UTC
TODAY = NOW // 86400 * 86400  # 2024-12-31 00:00:00 UTC
DAY = 86400
PERMISSIVE = ("MIT", "BSD", "Apache")
CORPUS_NOW = 1767268800     # 2026-01-01 12:00:00 UTC: after every corpus report

# --------------------------------------------------------------------------------------------
# Running dmarcwatch


def run(conf, *args, columns=100, now=NOW):
    """dmarcwatch -c CONF ARGS with today and the width pinned, stdout a pipe; (rc, out, err)."""
    env = dict(os.environ)
    for name in ("NO_COLOR", "DMARCWATCH_NOW", "COLUMNS"):
        env.pop(name, None)
    env["DMARCWATCH_NOW"] = str(now)
    env["COLUMNS"] = str(columns)
    env["TERM"] = "xterm"  # colour would be on, were stdout a terminal
    p = subprocess.run([BIN, "-c", conf, *args], capture_output=True, timeout=120, env=env,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def write_conf(tmp, name, extra=""):
    conf = os.path.join(tmp, name + ".conf")
    os.makedirs(os.path.join(tmp, name + ".db"), exist_ok=True)  # a configured Database must exist
    with open(conf, "w") as f:
        f.write("Database %s\nServiceCatalog %s\n%s" % (os.path.join(tmp, name + ".db"),
                                                      os.path.join(SRCDIR, "contrib", "services"), extra))
    return conf


# --------------------------------------------------------------------------------------------
# Golden files


def golden(relpath, got):
    """Compare got with t/golden/status/RELPATH (or rewrite it under STATUS_GOLDEN_UPDATE)."""
    path = os.path.join(GOLDEN, relpath)
    if UPDATE:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(got)
        print(f"# updated {relpath}")
        return True
    try:
        with open(path, encoding="utf-8", newline="") as f:
            want = f.read()
    except FileNotFoundError:
        return check(False, f"golden {relpath}", "missing: make it with STATUS_GOLDEN_UPDATE=1")
    if want == got:
        return check(True, f"golden {relpath}")
    diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                        "t/golden/status/" + relpath, "got"))
    print(diff, end="" if diff.endswith("\n") else "\n")
    return check(False, f"golden {relpath}", "differs (diff above; STATUS_GOLDEN_UPDATE=1 rewrites it)")


def pretty(text):
    """A JSON document as its golden file holds it: indented, key order kept."""
    return json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------------
# Reports


def record(ip, count, header_from, dkim=(), spf=(), evaluated=("fail", "fail"), reason=None,
           disposition="none"):
    """One <record>; dkim: (domain, selector, result)..., spf: (domain, result)..."""
    pe = "<disposition>%s</disposition><dkim>%s</dkim><spf>%s</spf>" % ((disposition,) + evaluated)
    if reason:
        pe += "<reason><type>%s</type></reason>" % reason
    auth = ""
    for domain, selector, result in dkim:
        auth += "<dkim><domain>%s</domain><selector>%s</selector><result>%s</result></dkim>" % (
            domain, selector, result)
    for domain, result in spf:
        auth += "<spf><domain>%s</domain><scope>mfrom</scope><result>%s</result></spf>" % (domain, result)
    return ("<record><row><source_ip>%s</source_ip><count>%d</count><policy_evaluated>%s</policy_evaluated>"
            "</row><identifiers><header_from>%s</header_from></identifiers><auth_results>%s</auth_results>"
            "</record>" % (ip, count, pe, header_from, auth))


def report(directory, domain, p, day, records, org="google.com", testing=False):
    """An aggregate report of ORG for DOMAIN covering DAY (midnight UTC) + one day; its path."""
    report_id = "%s-%s-%d" % (org, domain, day)
    xml = ('<?xml version="1.0"?><feedback><report_metadata><org_name>%s</org_name>'
           "<email>dmarc@%s</email><report_id>%s</report_id><date_range><begin>%d</begin><end>%d</end>"
           "</date_range></report_metadata><policy_published><domain>%s</domain><adkim>r</adkim>"
           "<aspf>r</aspf><p>%s</p><pct>100</pct>%s</policy_published>%s</feedback>\n"
           % (org, org, report_id, day, day + DAY - 1, domain, p, "<testing>y</testing>" if testing else "",
              "".join(records)))
    path = os.path.join(directory, report_id + ".xml")
    with open(path, "w") as f:
        f.write(xml)
    return path


def own(domain, count, ip="192.0.2.20"):
    """The domain's own mail: aligned DKIM and SPF pass."""
    return record(ip, count, domain, dkim=((domain, "mail", "pass"),), spf=((domain, "pass"),),
                  evaluated=("pass", "pass"))


def sendgrid(domain, count, ip="198.21.0.10", evaluated=("fail", "fail")):
    """SendGrid signing as sendgrid.net (not aligned), its own bounce domain."""
    return record(ip, count, domain, dkim=(("sendgrid.net", "s1", "pass"),), spf=(("sendgrid.net", "pass"),),
                  evaluated=evaluated)


def synthetic_reports(directory):
    """The reports of the synthetic store; the messages stored per domain over 30 days and in all."""
    paths = []
    days30 = [TODAY - i * DAY for i in range(30)]
    # spoofed.example: nothing but spoofing, from five addresses; one report 60 days old.
    for i, day in enumerate(days30[:10]):
        recs = [record("203.0.113.%d" % (10 + k), 5 + k + i, "spoofed.example",
                       spf=(("spoofed.example", "fail"),)) for k in range(4)]
        recs.append(record("198.51.100.66", 40, "spoofed.example",
                           dkim=(("attacker.test", "x", "pass"),), spf=(("attacker.test", "pass"),)))
        paths.append(report(directory, "spoofed.example", "none", day, recs))
    paths.append(report(directory, "spoofed.example", "none", TODAY - 60 * DAY,
                        [record("203.0.113.99", 7, "spoofed.example", spf=(("spoofed.example", "fail"),))]))
    # enforced.example: p=reject; SendGrid (authorized) fails and is rejected.
    for day in days30[:20]:
        paths.append(report(directory, "enforced.example", "reject", day,
                            [own("enforced.example", 100),
                             record("198.21.0.10", 30, "enforced.example", dkim=(("sendgrid.net", "s1", "pass"),),
                                    spf=(("sendgrid.net", "pass"),), disposition="reject")]))
    # forwarded.example: own mail, and lists forwarding it (SPF of the list, the signature broken).
    for day in days30[:10]:
        paths.append(report(directory, "forwarded.example", "none", day,
                            [own("forwarded.example", 50),
                             record("203.0.113.7", 30, "forwarded.example",
                                    dkim=(("forwarded.example", "mail", "fail"),),
                                    spf=(("lists.example.org", "pass"),), reason="forwarded"),
                             record("203.0.113.8", 12, "forwarded.example",
                                    dkim=(("forwarded.example", "mail", "fail"),),
                                    spf=(("groups.example.net", "pass"),), reason="forwarded"),
                             record("198.51.100.5", 4, "forwarded.example",
                                    spf=(("forwarded.example", "fail"),))]))
    # ready.example: 20 days, own mail and the office network pass.
    for day in days30[:20]:
        paths.append(report(directory, "ready.example", "none", day,
                            [own("ready.example", 200),
                             record("192.0.2.130", 20, "ready.example", spf=(("ready.example", "pass"),),
                                    evaluated=("fail", "pass"))]))
    # young.example: the same over 5 days.
    for day in days30[:5]:
        paths.append(report(directory, "young.example", "none", day, [own("young.example", 80)]))
    # sparse.example: two days of data, 20 days apart.
    for day in (days30[0], days30[19]):
        paths.append(report(directory, "sparse.example", "none", day, [own("sparse.example", 100)]))
    # testing.example: p=reject in test mode, SendGrid authorized and failing.
    for day in days30[:15]:
        paths.append(report(directory, "testing.example", "reject", day,
                            [own("testing.example", 60), sendgrid("testing.example", 25)], testing=True))
    # blocked.example: p=none, SendGrid authorized and failing.
    for day in days30[:15]:
        paths.append(report(directory, "blocked.example", "none", day,
                            [own("blocked.example", 60), sendgrid("blocked.example", 25)]))
    return paths


SYNTHETIC_CONF = ("Network 192.0.2.128/25 = Head office MX\n"
                  "Authorize enforced.example sendgrid\n"
                  "Authorize blocked.example sendgrid\n"
                  "Authorize testing.example sendgrid\n")

# Readiness state per domain (default window, 30 days).
READINESS = {
    "spoofed.example": "no-senders",
    "enforced.example": "losing",
    "forwarded.example": "ready-for-quarantine",
    "ready.example": "ready-for-reject",
    "young.example": "ready-for-quarantine",
    "blocked.example": "blocked",
    "sparse.example": "ready-for-quarantine",
    "testing.example": "losing",
}
def check_state(what, domain, state):
    """The readiness state of a domain as READINESS says (todo() for the known bug's domains)."""
    want = READINESS[domain]
    return check(state == want, f"{what}: readiness {want}", state)


# --------------------------------------------------------------------------------------------
# Checks of meaning


def check_lines(name, text, columns):
    """Every line fits COLUMNS (counted in characters: the sparkline is UTF-8)."""
    long = [line for line in text.splitlines() if len(line) > columns]
    check(not long, f"{name}: every line fits {columns} columns", long[:3])
    check("\033[" not in text, f"{name}: no colour on a pipe")


def check_verdicts(name, text, domains):
    """Each domain's verdict readable in full in the overview (in its table line, or below)."""
    cut = [d["domain"] for d in domains
           if not any(d["domain"] in line and d["readiness"]["text"] in line for line in text.splitlines())]
    check(not cut, f"{name}: every verdict in full", cut)


def check_domain_json(name, d):
    """What holds of one domain's JSON object whatever the wording."""
    services = d["services"]
    check(d["dmarc_pass"] + d["dmarc_fail"] == d["messages"], f"{name}: pass + fail = messages",
          (d["dmarc_pass"], d["dmarc_fail"], d["messages"]))
    check(sum(s["messages"] for s in services) == d["messages"], f"{name}: the services add up to the messages")
    bad = [s["name"] for s in services if s["dmarc_pass"] + s["dmarc_fail"] != s["messages"]]
    check(not bad, f"{name}: each service's dmarc_pass + dmarc_fail = messages", bad)
    check(sum(t["messages"] for t in d["trend"]) == d["messages"], f"{name}: the trend adds up to the messages")
    verdicts = ("authenticated", "unauthenticated", "forged")
    check(sum(d[v + "_messages"] for v in verdicts) == d["messages"],
          f"{name}: messages by authenticity add up to the messages")
    by_report = d["reports_by_authenticity"]
    check(sorted(by_report) == sorted(verdicts) and all(by_report[v] > 0 for v in verdicts if d[v + "_messages"] > 0),
          f"{name}: a verdict with messages has reports", by_report)


def check_csv(name, text, domains):
    """CSV rows parse, one per (domain, service), and carry the JSON's numbers."""
    rows = list(csv.DictReader(io.StringIO(text)))
    want = {(d["domain"], s["name"]): s for d in domains for s in d["services"]}
    got = {(r["domain"], r["service"]): r for r in rows}
    check(len(rows) == len(want) and set(got) == set(want), f"{name}: one CSV row per service of the JSON",
          (sorted(got), sorted(want)))
    fields = ("messages", "dmarc_pass", "dmarc_fail", "spf_pass", "spf_aligned", "dkim_pass", "dkim_aligned",
              "forwarded", "overridden", "sources")
    wrong = []
    for key, row in got.items():
        s = want.get(key)
        if s is None:
            continue
        for field in fields:
            if field in s and int(row[field]) != s[field]:
                wrong.append((key, field, row[field], s[field]))
        for field in ("id", "category", "class", "failure", "fix"):
            if field in s and row[field] != s[field]:
                wrong.append((key, field, row[field], s[field]))
    check(not wrong, f"{name}: the CSV numbers and words are the JSON's", wrong[:5])


def check_what_if(name, d, policy, pct):
    w = d.get("what_if")
    if not check(w is not None and w["policy"] == policy and w["pct"] == pct, f"{name}: what_if {policy} {pct}", w):
        return
    check(w["stopped"] == sum(s["stopped"] for s in w["services"]), f"{name}: what_if.stopped = sum of services'",
          w)
    check(w["stopped_legitimate"] == sum(s["stopped"] for s in w["services"] if s["legitimate"]),
          f"{name}: stopped_legitimate = sum of legitimate services'")
    check(w["forwarded"] == sum(s["forwarded"] for s in w["services"]), f"{name}: forwarded = sum of services'")
    check(all(s["forwarded"] + s["overridden"] + s["stopped"] <= s["failing"] for s in w["services"]),
          f"{name}: forwarded, overridden and stopped are apart, within the failing")
    check(sum(s["failing"] for s in w["services"]) == d["dmarc_fail"],
          f"{name}: the what-if's services hold every failing message")


# --------------------------------------------------------------------------------------------
# 1. Synthetic


def synthetic(tmp):
    conf = write_conf(tmp, "synthetic", SYNTHETIC_CONF)
    inbox = os.path.join(tmp, "synthetic-reports")
    os.makedirs(inbox)
    paths = synthetic_reports(inbox)
    rc, out, err = run(conf, "ingest", *paths)
    check(rc == 0, f"synthetic: {len(paths)} reports stored", out[-500:] + err)

    # The overview, at 100 and 80 columns.
    texts = {}
    for columns in (100, 80):
        rc, out, err = run(conf, "status", columns=columns)
        check(rc == 0, f"status (COLUMNS={columns}) exits 0", err)
        golden(f"synthetic/overview-{columns}.txt", out)
        if columns >= 100:
            check_lines(f"overview at {columns}", out, columns)
        check("\033[" not in out, f"overview at {columns}: no colour on a pipe")
        texts[columns] = out
    rc, out, err = run(conf, "status", "--json")
    golden("synthetic/overview.json", pretty(out))
    overview = {d["domain"]: d for d in json.loads(out)["domains"]}
    check(sorted(overview) == sorted(READINESS), "the overview lists every domain", sorted(overview))
    for domain, state in READINESS.items():
        d = overview.get(domain, {})
        check_state(domain, domain, d.get("readiness", {}).get("state"))
        if d:
            check_domain_json(f"overview {domain}", d)
    for columns, text in texts.items():
        check_verdicts(f"overview at {columns}", text, overview.values())
    rc, out, err = run(conf, "status", "--csv")
    golden("synthetic/overview.csv", out)
    check_csv("overview --csv", out, list(overview.values()))

    pages = {}
    whatif_long = []  # the what-if pages' lines wider than 100 columns
    for domain in READINESS:
        base = f"synthetic/{domain}"
        rc, out, err = run(conf, "status", domain)
        check(rc == 0, f"status {domain} exits 0", err)
        golden(f"{base}.txt", out)
        check_lines(f"status {domain}", out, 100)
        rc, out, err = run(conf, "status", domain, "--json")
        golden(f"{base}.json", pretty(out))
        doc = json.loads(out)["domains"]
        check(len(doc) == 1 and doc[0]["domain"] == domain, f"status {domain} --json: that domain only",
              [d["domain"] for d in doc])
        d = pages[domain] = doc[0]
        check_domain_json(f"status {domain}", d)
        check_state(f"status {domain}", domain, d["readiness"]["state"])
        rc, out, err = run(conf, "status", domain, "--csv")
        golden(f"{base}.csv", out)
        check_csv(f"status {domain} --csv", out, [d])
        rc, out, err = run(conf, "status", domain, "--policy", "reject")
        check(rc == 0, f"status {domain} --policy reject exits 0", err)
        golden(f"{base}.reject.txt", out)
        whatif_long += [line for line in out.splitlines() if len(line) > 100]
        check("WHAT IF p=reject" in out, f"status {domain} --policy reject: the what-if section")
        rc, out, err = run(conf, "status", domain, "--policy", "reject", "--json")
        golden(f"{base}.reject.json", pretty(out))
        rd = json.loads(out)["domains"][0]
        check_what_if(f"{domain} --policy reject", rd, "reject", 100)
        w = rd["what_if"]
        check(d["would_block"] == d["dmarc_fail"] and w["stopped"] + w["forwarded"] + w["overridden"] == d["dmarc_fail"],
              f"{domain}: p=reject's what-if stops the failing mail but forwarded and overridden (would_block)",
              (w, d["would_block"]))
        rc, out, err = run(conf, "status", domain, "--policy", "quarantine", "--pct", "50")
        check(rc == 0, f"status {domain} --policy quarantine --pct 50 exits 0", err)
        golden(f"{base}.quarantine-50.txt", out)
        whatif_long += [line for line in out.splitlines() if len(line) > 100]
        check("WHAT IF p=quarantine pct=50" in out, f"status {domain} --pct 50: the what-if section")
        rc, out, err = run(conf, "status", domain, "--policy", "quarantine", "--pct", "50", "--json")
        qd = json.loads(out)["domains"][0]
        check_what_if(f"{domain} --policy quarantine --pct 50", qd, "quarantine", 50)
        check(all(abs(2 * q["stopped"] - r["stopped"]) <= 1 for q, r in
                  zip(sorted(qd["what_if"]["services"], key=lambda s: s["name"]),
                      sorted(rd["what_if"]["services"], key=lambda s: s["name"]))),
              f"{domain}: pct 50 stops half of what pct 100 stops, per service")

    check(not whatif_long, "the what-if pages (--policy reject, quarantine --pct 50): every line fits 100 columns",
          whatif_long[:2])

    # One page at 80 columns.
    rc, out, err = run(conf, "status", "enforced.example", columns=80)
    golden("synthetic/enforced.example-80.txt", out)

    # Scenario by scenario, what the page must say whatever the wording.
    d = pages["spoofed.example"]
    check(d["dmarc_pass"] == 0 and d["unknown_messages"] == d["messages"] and
          not any(s["legitimate"] for s in d["services"]),
          "spoofed.example: only failing mail, all of it unknown or suspicious", d["services"])
    check(len({s["ip"] for s in d["failing_sources"]}) == 5, "spoofed.example: five failing sources listed",
          [s["ip"] for s in d["failing_sources"]])
    d = pages["enforced.example"]
    check(d["policy"]["p"] == "reject" and d["readiness"]["services"] == ["Twilio SendGrid"],
          "enforced.example: p=reject, losing mail from SendGrid", d["readiness"])
    check("losing mail from: Twilio SendGrid" in d["readiness"]["text"], "enforced.example: the verdict names SendGrid",
          d["readiness"]["text"])
    sg = next((s for s in d["services"] if s["id"] == "sendgrid"), {})
    check(sg.get("class") == "authorized" and sg.get("dmarc_fail") == 600 and sg.get("rejected") == 600,
          "enforced.example: SendGrid authorized, 600 failing, 600 rejected", sg)
    check("sendgrid.net" in sg.get("failure", "") and "DKIM" in sg.get("fix", ""),
          "enforced.example: SendGrid's failure names sendgrid.net, the fix is DKIM", sg)
    d = pages["forwarded.example"]
    fwd = [s for s in d["services"] if s["class"] == "forwarder"]
    listed = sum(s["forwarded"] for s in d["services"])
    check(listed == 420, "forwarded.example: the reporters' 420 forwarded messages counted", listed)
    # The lists' mail, marked forwarded by the reporters, is a forwarder's on the domain's page.
    check(sum(s["messages"] for s in fwd) == 420 and all(s["dmarc_pass"] == 0 for s in fwd),
          "forwarded.example: 420 forwarded messages, classed forwarder", [(s["name"], s["messages"]) for s in fwd])
    check(d["unknown_messages"] == 40, "forwarded.example: only the 40 spoofed are unknown", d["unknown_messages"])
    check("FORWARDERS" in run(conf, "status", "forwarded.example")[1], "forwarded.example: the forwarders section")
    w = json.loads(run(conf, "status", "forwarded.example", "--policy", "reject", "--json")[1])["domains"][0]["what_if"]
    check(w["forwarded"] == 420 and w["stopped"] == 40 and w["stopped_legitimate"] == 0,
          "forwarded.example: p=reject stops the 40 spoofed, the 420 forwarded counted apart", w)
    d = pages["ready.example"]
    check(d["covered_days"] == 20 and d["dmarc_fail"] == 0, "ready.example: 20 days, nothing failing", d)
    d = pages["young.example"]
    check(d["covered_days"] == 5, "young.example: 5 days of data", d["covered_days"])
    d = pages["blocked.example"]
    check(d["readiness"]["services"] == ["Twilio SendGrid"] and "blocked by: Twilio SendGrid" in d["readiness"]["text"],
          "blocked.example: blocked by SendGrid", d["readiness"])

    # The window: the 60-day-old report only in --since all; ready.example short of 14 days over 7.
    for since in ("7d", "all"):
        rc, out, err = run(conf, "status", "--since", since)
        check(rc == 0, f"status --since {since} exits 0", err)
        golden(f"synthetic/overview-since-{since}.txt", out)
        window = out.splitlines()[0] if out else ""
        # The overview's window is every domain's: with --since all, from the oldest report on.
        want = "Window 2024-11-01 .. 2024-12-31 (UTC)" if since == "all" else "Window 2024-12-25 .. 2024-12-31 (UTC)"
        check(window == want, f"status --since {since}: the overview's window is {want[7:]}", window)
    week = {d["domain"]: d for d in json.loads(run(conf, "status", "--since", "7d", "--json")[1])["domains"]}
    every = {d["domain"]: d for d in json.loads(run(conf, "status", "--since", "all", "--json")[1])["domains"]}
    check(every["spoofed.example"]["messages"] == overview["spoofed.example"]["messages"] + 7,
          "--since all: the 60-day-old report counts", (every["spoofed.example"]["messages"],
                                                       overview["spoofed.example"]["messages"]))
    check(week["ready.example"]["messages"] == 7 * 220 and week["ready.example"]["covered_days"] == 7 and
          week["ready.example"]["readiness"]["state"] == "ready-for-quarantine",
          "--since 7d: ready.example's 7 days, too few for reject", week["ready.example"]["readiness"])
    check(every["ready.example"]["messages"] == 20 * 220 and
          every["ready.example"]["readiness"]["state"] == "ready-for-reject", "--since all: ready.example's 20 days")
    check(every["spoofed.example"]["from"] == "2024-11-01" and every["spoofed.example"]["to"] == "2024-12-31",
          "--since all: the window is the days the data covers", (every["spoofed.example"]["from"],
                                                                   every["spoofed.example"]["to"]))

    # The domain filter: a DOMAIN and --domain D give the same page, of that domain only.
    for fmt in ((), ("--json",), ("--csv",)):
        a = run(conf, "status", "young.example", *fmt)
        b = run(conf, "status", "--domain", "young.example", *fmt)
        check(a == b and a[0] == 0, f"status DOMAIN and --domain D agree {' '.join(fmt)}".rstrip())
    page = run(conf, "status", "young.example")[1]
    check("young.example" in page and not any(o in page for o in READINESS if o != "young.example"),
          "status young.example names no other domain")

    # Usage errors: exit 2 with the reason.
    rc, out, err = run(conf, "status", "nosuch.example")
    check(rc == 2 and "nosuch.example" in err and out == "", "an unknown domain: exit 2, named", (rc, err))
    golden("synthetic/unknown-domain.stderr", err)
    for args, word in ((("--since", "yesterday"), "yesterday"), (("--since", "0d"), "0d"),
                       (("--top", "0"), "--top"), (("--top", "x"), "--top"),
                       (("ready.example", "--policy", "reject", "--pct", "101"), "--pct"),
                       (("ready.example", "--policy", "reject", "--pct", "-1"), "--pct"),
                       (("ready.example", "--policy", "none"), "--policy"),
                       (("ready.example", "--pct", "50"), "--pct"),
                       (("--policy", "reject"), "DOMAIN"),
                       (("--json", "--csv"), "--csv"), (("--bogus",), "--bogus")):
        rc, out, err = run(conf, "status", *args)
        check(rc == 2 and word in err and out == "", f"status {' '.join(args)}: exit 2 naming {word}", (rc, out, err))


def empty_store(tmp):
    """A store that exists and holds no report."""
    conf = write_conf(tmp, "empty")
    inbox = os.path.join(tmp, "empty-inbox")
    os.makedirs(inbox)
    run(conf, "ingest", inbox)  # an empty directory: creates the store, stores nothing
    if not check(os.path.exists(os.path.join(tmp, "empty.db")), "empty: the store exists"):
        return
    rc, out, err = run(conf, "status")
    check(rc == 0 and out.startswith("No reports stored yet"), "empty: status says no reports yet", (rc, out, err))
    golden("empty/overview.txt", out)
    rc, out, err = run(conf, "status", "--json")
    check(rc == 0 and json.loads(out) == {"domains": []}, 'empty: --json is {"domains":[]}', out)
    golden("empty/overview.json", out)
    rc, out, err = run(conf, "status", "--csv")
    check(rc == 0 and len(out.splitlines()) == 1 and out.startswith("domain,service,"), "empty: --csv the header only",
          out)
    golden("empty/overview.csv", out)
    rc, out, err = run(conf, "status", "--since", "all")
    check(rc == 0 and out.startswith("No reports stored yet"), "empty: --since all too", (rc, out, err))
    rc, out, err = run(conf, "status", "example.com")
    check(rc == 2 and "example.com" in err, "empty: a domain is unknown, exit 2", (rc, err))


# --------------------------------------------------------------------------------------------
# 2. Corpus


def find_corpus():
    if os.environ.get("CORPUS"):
        return os.environ["CORPUS"]
    finder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib", "find-corpus.sh")
    return subprocess.run(["sh", finder, SRCDIR, BUILDDIR], capture_output=True, text=True).stdout.strip()


def corpus_run(conf, *args, columns=100):
    """run() with today after every corpus report (2026-01-01 12:00 UTC)."""
    return run(conf, *args, columns=columns, now=CORPUS_NOW)


def corpus_store(tmp):
    corpus = find_corpus()
    if not corpus or not os.path.exists(os.path.join(corpus, "MANIFEST.tsv")):
        print("SKIP: corpus goldens: no corpus (CORPUS unset, no shared/corpus/MANIFEST.tsv found)")
        return
    rows = []
    with open(os.path.join(corpus, "MANIFEST.tsv"), encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            rows.append(dict(zip(header, line.rstrip("\n").split("\t"))))
    chosen = sorted(r["path"] for r in rows
                    if r["license_of_repo"].startswith(PERMISSIVE))
    paths = [os.path.join(corpus, "files", p) for p in chosen if os.path.exists(os.path.join(corpus, "files", p))]
    # The inputs are a golden file too: a changed corpus shows here first.
    golden_inputs = golden("corpus/inputs.txt", "".join(p + "\n" for p in chosen))
    conf = write_conf(tmp, "corpus")
    rc, out, err = corpus_run(conf, "ingest", "--json", *paths)
    stored = sum(1 for line in out.splitlines() if line.strip()
                 for r in json.loads(line).get("reports", []) if r.get("status") == "stored")
    check(rc in (0, 1) and stored > 0, f"corpus: {len(paths)} permissive inputs, {stored} reports stored", err[-500:])
    if not golden_inputs:
        print("SKIP: corpus goldens: the corpus's permissive files changed (see inputs.txt above)")
        return
    rc, out, err = corpus_run(conf, "status", "--since", "all")
    check(rc == 0, "corpus: status --since all exits 0", err)
    golden("corpus/overview.txt", out)
    check_lines("corpus overview", out, 100)
    overview_text = out
    rc, out, err = corpus_run(conf, "status", "--since", "all", "--json")
    golden("corpus/overview.json", pretty(out))
    domains = json.loads(out)["domains"]
    check_verdicts("corpus overview", overview_text, domains)
    for d in domains:
        check_domain_json(f"corpus {d['domain']}", d)
    rc, out, err = corpus_run(conf, "status", "--since", "all", "--csv")
    golden("corpus/overview.csv", out)
    check_csv("corpus --csv", out, domains)
    # Two pages: the domain with the most messages, and of the others with 10 or more the one
    # that fails most (share of its messages).
    picks = []
    if domains:
        picks.append(max(domains, key=lambda d: (d["messages"], d["domain"]))["domain"])
        others = [d for d in domains if d["messages"] >= 10 and d["domain"] not in picks]
        if others:
            picks.append(max(others, key=lambda d: (d["dmarc_fail"] / d["messages"], d["domain"]))["domain"])
    golden("corpus/pages.txt", "".join(p + "\n" for p in picks))
    for domain in picks:
        rc, out, err = corpus_run(conf, "status", domain, "--since", "all")
        check(rc == 0, f"corpus: status {domain} exits 0", err)
        golden(f"corpus/{domain}.txt", out)
        check_lines(f"corpus status {domain}", out, 100)
        rc, out, err = corpus_run(conf, "status", domain, "--since", "all", "--json", "--policy", "reject")
        golden(f"corpus/{domain}.reject.json", pretty(out))
        d = json.loads(out)["domains"][0]
        check_domain_json(f"corpus page {domain}", d)
        check_what_if(f"corpus {domain}", d, "reject", 100)
        rc, out, err = corpus_run(conf, "status", domain, "--since", "all", "--csv")
        golden(f"corpus/{domain}.csv", out)
        check_csv(f"corpus {domain} --csv", out, [d])


def main():
    if UPDATE:
        print(f"# STATUS_GOLDEN_UPDATE: rewriting the golden files under {GOLDEN}")
    tmp = tempfile.mkdtemp(prefix="dmarcwatch-status-golden.")
    try:
        empty_store(tmp)
        synthetic(tmp)
        corpus_store(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
