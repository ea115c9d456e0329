#!/usr/bin/env python3
"""auth-mail.py - one DMARC report mail for the report authenticity tests (issue 14).

    auth-mail.py OUT --from ADDR --org ORG --email ADDR --id REPORT_ID --domain POLICY_DOMAIN
                 --messages N [--simple-subject]
    auth-mail.py --dkim-key PORT NAME      print NAME's TXT record as served by 127.0.0.1:PORT
                                           ("NAME record", the strings joined: a libopendkim
                                           key file line), exit 1 when there is none

A report mail as a reporter sends it: From ADDR, one gzip attachment holding a report with
org_name ORG, email ADDR, report_id REPORT_ID, policy domain POLICY_DOMAIN and one record of
N messages from 192.0.2.1.  CRLF line ends, fixed Date and Message-ID (deterministic for the
same arguments).  --simple-subject writes the Subject with two spaces after the colon and
inside (what c=simple signs byte for byte: the milter must see the header as sent).
Standard library only.
"""
import argparse
import base64
import gzip
import random
import socket
import struct
import sys


def report_xml(org, email, report_id, domain, messages):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<feedback><report_metadata>'
            "<org_name>%s</org_name><email>%s</email><report_id>%s</report_id>"
            "<date_range><begin>1700000000</begin><end>1700086399</end></date_range></report_metadata>"
            "<policy_published><domain>%s</domain><adkim>r</adkim><aspf>r</aspf><p>reject</p>"
            "<sp>reject</sp><pct>100</pct></policy_published>"
            "<record><row><source_ip>192.0.2.1</source_ip><count>%d</count><policy_evaluated>"
            "<disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>"
            "<identifiers><header_from>%s</header_from></identifiers><auth_results><dkim><domain>%s"
            "</domain><result>pass</result></dkim><spf><domain>%s</domain><result>pass</result></spf>"
            "</auth_results></record></feedback>\n"
            % (org, email, report_id, domain, messages, domain, domain, domain)).encode()


def mail(args):
    xml = gzip.compress(report_xml(args.org, args.email, args.id, args.domain, args.messages), mtime=0)
    name = "%s!%s!1700000000!1700086399!%s.xml.gz" % (args.org, args.domain, args.id)
    b64 = base64.encodebytes(xml).decode().replace("\n", "\r\n")
    subject = ("Subject:  Report  Domain: %s Submitter: %s Report-ID: %s" if args.simple_subject
               else "Subject: Report Domain: %s Submitter: %s Report-ID: %s") % (args.domain, args.org, args.id)
    head = [
        "From: %s" % getattr(args, "from"),
        "To: rua@example.test",
        subject,
        "Date: Tue, 14 Nov 2023 22:13:20 +0000",
        "Message-ID: <%s@%s>" % (args.id, getattr(args, "from").split("@")[-1]),
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b-%s"' % args.id,
    ]
    body = ("--b-%s\r\nContent-Type: text/plain\r\n\r\nDMARC aggregate report %s.\r\n\r\n"
            "--b-%s\r\nContent-Type: application/gzip; name=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n%s\r\n--b-%s--\r\n"
            % (args.id, args.id, args.id, name, name, b64, args.id))
    with open(args.out, "wb") as f:
        f.write(("\r\n".join(head) + "\r\n\r\n" + body).encode())


def txt_record(port, name):
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    q += struct.pack(">HH", 16, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(q, ("127.0.0.1", port))
    r = s.recv(65535)
    if len(r) < 12 or r[3] & 0xF or struct.unpack(">H", r[6:8])[0] < 1:
        return None
    pos = 12 + len(q) - 12  # past the question (echoed as sent)
    pos += 10  # the answer's name (a pointer: 2) and type, class, TTL (8)
    rdlen = struct.unpack(">H", r[pos:pos + 2])[0]
    rdata, out, i = r[pos + 2:pos + 2 + rdlen], b"", 0
    while i < len(rdata):
        out += rdata[i + 1:i + 1 + rdata[i]]
        i += 1 + rdata[i]
    return out.decode()


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--dkim-key":
        record = txt_record(int(sys.argv[2]), sys.argv[3])
        if record is None:
            sys.exit(1)
        print("%s %s" % (sys.argv[3], record))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--from", required=True)
    ap.add_argument("--org", required=True)
    ap.add_argument("--email", required=True)
    ap.add_argument("--id", required=True)
    ap.add_argument("--domain", required=True)
    ap.add_argument("--messages", type=int, required=True)
    ap.add_argument("--simple-subject", action="store_true")
    mail(ap.parse_args())


if __name__ == "__main__":
    main()
