#!/usr/bin/env python3
"""alert-mail.py - DMARC aggregate report mails shaped to trigger the alert rules (e2e tests).

    alert-mail.py OUTDIR SPEC [--now EPOCH]

SPEC has one report per line (blank lines and '#' comments skipped):

    FILE ORG REPORT_ID DOMAIN P DAYS FORMAT RECORD...

  FILE      the mail written as OUTDIR/FILE (several lines with one FILE: one mail, one
            attachment each, as a reporter sending several reports at once)
  ORG       the reporter's org_name (and the domain of its address)
  DOMAIN P  the policy domain and its published p=
  DAYS      the report's day: A-B, days before today (UTC) it begins and ends, e.g. 3-2 is
            the whole day three days ago; 0-0 ends now
  FORMAT    gz (report.xml.gz, application/gzip) or xml (text/xml), as reporters send them
  RECORD    IP:COUNT:RESULT:SELECTOR: RESULT pass (DKIM and SPF pass, aligned: DMARC pass) or
            fail (both fail); SELECTOR the DKIM selector of the domain's own signature ("dw1"
            for neutral mail; s1 is SendGrid's in the catalog)

Prints the files written.  Standard library only; deterministic for the same --now.
"""
import argparse
import gzip
import os
import time
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate

DAY = 86400


def record_xml(domain, spec):
    ip, count, result, selector = spec.split(":")
    ok = result == "pass"
    word = "pass" if ok else "fail"
    return ("<record><row><source_ip>%s</source_ip><count>%d</count><policy_evaluated>"
            "<disposition>none</disposition><dkim>%s</dkim><spf>%s</spf></policy_evaluated></row>"
            "<identifiers><header_from>%s</header_from></identifiers><auth_results>"
            "<dkim><domain>%s</domain><selector>%s</selector><result>%s</result></dkim>"
            "<spf><domain>%s</domain><result>%s</result></spf></auth_results></record>"
            % (ip, int(count), word, word, domain, domain, selector, word, domain, word))


def report_xml(org, report_id, domain, p, begin, end, records):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<feedback><report_metadata>'
            "<org_name>%s</org_name><email>noreply-dmarc@%s</email><report_id>%s</report_id>"
            "<date_range><begin>%d</begin><end>%d</end></date_range></report_metadata>"
            "<policy_published><domain>%s</domain><adkim>r</adkim><aspf>r</aspf><p>%s</p>"
            "<sp>%s</sp><pct>100</pct></policy_published>%s</feedback>\n"
            % (org, org, report_id, begin, end, domain, p, p, "".join(record_xml(domain, r) for r in records))).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("spec")
    ap.add_argument("--now", type=int, default=int(time.time()))
    args = ap.parse_args()
    today = args.now - args.now % DAY
    mails = {}
    order = []
    with open(args.spec) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, org, report_id, domain, p, days, fmt, *records = line.split()
            first, last = (int(x) for x in days.split("-"))
            begin = today - first * DAY
            end = args.now - 1 if last == 0 else today - last * DAY - 1
            xml = report_xml(org, report_id, domain, p, begin, end, records)
            stem = "%s!%s!%d!%d!%s" % (org, domain, begin, end, report_id)
            if fmt == "gz":
                part = MIMEApplication(gzip.compress(xml, mtime=0), "gzip")
                part.add_header("Content-Disposition", "attachment", filename=stem + ".xml.gz")
            else:
                part = MIMEApplication(xml, "xml")
                part.replace_header("Content-Type", 'text/xml; charset="utf-8"')
                part.add_header("Content-Disposition", "attachment", filename=stem + ".xml")
            if name not in mails:
                msg = MIMEMultipart()
                msg["From"] = "noreply-dmarc@" + org
                msg["To"] = "rua@example.test"
                msg["Subject"] = "Report Domain: %s Submitter: %s Report-ID: %s" % (domain, org, report_id)
                msg["Date"] = formatdate(args.now)
                msg["Message-ID"] = "<%s@%s>" % (report_id, org)
                msg.attach(MIMEText("This is an aggregate report from %s.\r\n" % org))
                mails[name] = msg
                order.append(name)
            mails[name].attach(part)
    for name in order:
        path = os.path.join(args.outdir, name)
        with open(path, "wb") as out:
            out.write(mails[name].as_bytes())
        print(path)


if __name__ == "__main__":
    main()
