#!/usr/bin/env python3
"""make-reports.py - generate DMARC aggregate report mails for the milter and e2e tests.

    make-reports.py OUTDIR [--count N] [--first K] [--prefix ID] [--records R]
                    [--to ADDR] [--domain D] [--distinct-ips] [--specials]

Writes OUTDIR/report-<K..K+N-1>.eml: one report per mail (gzip attachment),
report id "<prefix>-<n>", R records whose counts are n, 1, 1, ... (so the
message total of report n is n + R - 1), plus OUTDIR/expected.tsv with
"file report_id records messages" lines.  --distinct-ips gives every record
of every report its own source IP (10.x.y.z), so each report adds R new facts
to a store instead of adding to the same 500 (the full-disk test needs reports
that take new pages).  With --specials it also writes:
  multi.eml     two reports in one mail (gzip + zip attachments)
  corrupt.eml   a truncated gzip attachment (parse failure)
  noreport.eml  mail to the rua address without any report
  plain.eml     ordinary mail (for other recipients)
  big.eml       one valid report of 400 records (about 40 KB of mail)
  huge.eml      about 300 KB of mail (over a 64K MaxMessageSize)
  mapfull.eml   one valid report of 12000 records over 31 days (372000 facts,
                about 120 KB of mail) that cannot fit a 16M MapSize: MAP_FULL
Standard library only; output is deterministic for the same arguments.
"""
import argparse
import gzip
import io
import os
import random
import zipfile
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate

BEGIN = 1700000000
END = BEGIN + 86399


def report_xml(report_id, domain, counts, org="google.com", days=1, distinct_ips=False, ip_base=0):
    rows = []
    for i, count in enumerate(counts):
        ip = "192.0.2.%d" % (1 + i % 250) if i < 250 else "198.51.100.%d" % (1 + i % 250)
        if distinct_ips:
            k = ip_base + i
            ip = "10.%d.%d.%d" % (k >> 16 & 255, k >> 8 & 255, k & 255)
        passing = i % 3 != 2
        rows.append(
            "<record><row><source_ip>%s</source_ip><count>%d</count>"
            "<policy_evaluated><disposition>none</disposition><dkim>%s</dkim><spf>%s</spf>"
            "</policy_evaluated></row><identifiers><header_from>%s</header_from></identifiers>"
            "<auth_results><dkim><domain>%s</domain><result>%s</result></dkim>"
            "<spf><domain>%s</domain><result>pass</result></spf></auth_results></record>"
            % (ip, count, "pass" if passing else "fail", "pass" if passing else "fail", domain, domain,
               "pass" if passing else "fail", domain))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<feedback><report_metadata>'
            "<org_name>%s</org_name><email>noreply-dmarc-support@%s</email>"
            "<report_id>%s</report_id><date_range><begin>%d</begin><end>%d</end></date_range>"
            "</report_metadata><policy_published><domain>%s</domain><adkim>r</adkim><aspf>r</aspf>"
            "<p>none</p><sp>none</sp><pct>100</pct></policy_published>%s</feedback>\n"
            % (org, org, report_id, BEGIN - (days - 1) * 86400, END, domain, "".join(rows))).encode()


def gz(data):
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as f:
        f.write(data)
    return out.getvalue()


def zipped(name, data):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo(name, date_time=(2023, 11, 14, 0, 0, 0)), data)
    return out.getvalue()


def mail(to, subject, attachments, text="This is an aggregate report.\r\n", msgid=None):
    msg = MIMEMultipart()
    msg["From"] = "noreply-dmarc-support@google.com"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(BEGIN + 90000, usegmt=True)
    msg["Message-ID"] = "<%s@google.com>" % (msgid or subject.replace(" ", "."))
    msg.attach(MIMEText(text))
    for name, ctype, data in attachments:
        part = MIMEApplication(data, _subtype=ctype.split("/")[1])
        part.add_header("Content-Disposition", "attachment", filename=name)
        msg.attach(part)
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def write(outdir, name, data):
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--prefix", default="rid")
    ap.add_argument("--records", type=int, default=2)
    ap.add_argument("--to", default="rua@example.test")
    ap.add_argument("--domain", default="example.test")
    ap.add_argument("--distinct-ips", action="store_true")
    ap.add_argument("--specials", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    expected = []
    for n in range(args.first, args.first + args.count):
        rid = "%s-%d" % (args.prefix, n)
        counts = [n] + [1] * (args.records - 1)
        xml = report_xml(rid, args.domain, counts, distinct_ips=args.distinct_ips, ip_base=(n - 1) * args.records)
        fname = "google.com!%s!%d!%d.xml.gz" % (args.domain, BEGIN, END)
        write(args.outdir, "report-%d.eml" % n,
              mail(args.to, "Report domain: %s Submitter: google.com Report-ID: %s" % (args.domain, rid),
                   [(fname, "application/gzip", gz(xml))], msgid=rid))
        expected.append("report-%d.eml\t%s\t%d\t%d" % (n, rid, len(counts), sum(counts)))
    if args.specials:
        a = report_xml(args.prefix + "-multi-a", args.domain, [5, 6])
        b = report_xml(args.prefix + "-multi-b", args.domain, [7, 8, 9], org="yahoo.com")
        write(args.outdir, "multi.eml",
              mail(args.to, "Two reports", [("a.xml.gz", "application/gzip", gz(a)),
                                            ("b.zip", "application/zip", zipped("b.xml", b))]))
        expected.append("multi.eml\t%s-multi-a,%s-multi-b\t5\t35" % (args.prefix, args.prefix))
        good = gz(report_xml(args.prefix + "-corrupt", args.domain, [3]))
        write(args.outdir, "corrupt.eml",
              mail(args.to, "Broken report", [("c.xml.gz", "application/gzip", good[: len(good) // 2])]))
        write(args.outdir, "noreport.eml", mail(args.to, "Hello", [], text="No report in here.\r\n"))
        plain = ("From: alice@sender.test\r\nTo: bob@other.test\r\nSubject: plain mail\r\n"
                 "Message-ID: <plain@sender.test>\r\n\r\nJust a letter.\r\n").encode()
        write(args.outdir, "plain.eml", plain)
        counts = [1] * 400
        big = report_xml(args.prefix + "-big", args.domain, counts)
        # Random-looking IPs make the gzip bigger, so the mail spills a small MemoryBufferSize.
        rnd = random.Random(42)
        big = big.replace(b"192.0.2.", b"192.0.2.").replace(
            b"<org_name>", b"<extra_contact_info>" + ("%x" % rnd.getrandbits(4096)).encode() +
            b"</extra_contact_info><org_name>", 1)
        write(args.outdir, "big.eml", mail(args.to, "Big report", [("big.xml.gz", "application/gzip", gz(big))]))
        expected.append("big.eml\t%s-big\t400\t400" % args.prefix)
        noise = bytes(rnd.getrandbits(8) for _ in range(220000))
        write(args.outdir, "huge.eml",
              mail(args.to, "Huge", [("huge.xml.gz", "application/gzip", noise)]))
        # Each record's count (31) is spread over the 31 days, one fact per day and IP: about
        # 6000 records already overflow a 16M map, so 12000 does whatever the page layout.
        full = report_xml(args.prefix + "-mapfull", args.domain, [31] * 12000, days=31, distinct_ips=True)
        write(args.outdir, "mapfull.eml",
              mail(args.to, "Map full", [("full.xml.gz", "application/gzip", gz(full))]))
    with open(os.path.join(args.outdir, "expected.tsv"), "w") as f:
        f.write("\n".join(expected) + "\n")


if __name__ == "__main__":
    main()
