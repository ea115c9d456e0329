#!/usr/bin/env python3
"""milter-client.py - speak the milter protocol to dmarcwatch-milter as Postfix does (tests).

    milter-client.py SOCKET ACTION [--timeout S] [--id ID] [--reports N] [--pad BYTES]
                                   [--messages N] [--mail FILE] [--protocol FLAGS]

SOCKET is the milter's unix socket path.  Every client negotiates as Postfix
(version 6, actions 0x1FF, protocol --protocol, default 0x1FFFFF: every flag,
SMFIP_HDR_LEADSPC included; header values are sent as they are when the milter
agrees to that one, else with one space after the colon eaten, as Postfix
does), sends CONNECT, HELO, MAIL and RCPT
with their macros without waiting (the milter asks for no reply to them), and
every wait is bounded by --timeout seconds from the connect.  ACTION:

  plain        a message to bob@example.test: the milter accepts it at DATA
  report       a report mail to rua@example.test: --reports N aggregate reports
               (report ids ID-1..ID-N, one record of 7 messages each) as
               attachments, plus --pad bytes of padding so it exceeds
               MemoryBufferSize; each body chunk's reply is read before end of
               message is sent (as Postfix waits for it); wants
               "X-DMARCwatch: stored; reports=N..." and accept at the end; with
               --mail FILE that mail instead (holding N reports), and the ok line
               ends with answered_ms=EPOCH_MS, the wall-clock time of the accept
  malformed    a packet of length 0 after the negotiation: the milter closes
  vanish-mid   a report mail's headers and first body chunk, then gone with the
               chunk's reply unread (the milter's read fails with ECONNRESET)
  vanish-eom   a whole report mail and its end of message, then gone at once,
               while the milter's worker finishes it
  no-read      --messages plain messages (MAIL, RCPT, DATA) without ever reading
               a reply, then the connection stays open for --timeout seconds

Prints one line, "ACTION ok ms=N ..." or "ACTION FAIL ms=N reason", and exits
0 or 1.  ms is the time from connect to the answer that counts.  Mails are
built with make-reports.py's functions.  Standard library only.
"""
import argparse
import importlib
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
reports = importlib.import_module("make-reports")

CHUNK = 65535  # Postfix's body chunk size


class Timeout(Exception):
    pass


def packet(letter, data=b""):
    return struct.pack(">I", len(data) + 1) + letter.encode() + data


def strings(*items):
    return b"".join(s.encode() + b"\0" for s in items)


def envelope(rcpt, qid):
    """CONNECT, HELO, MAIL and RCPT with their macros: Postfix sends them without waiting."""
    return (packet("D", b"C" + strings("j", "mx.example.test")) +
            packet("C", strings("client.example.test") + b"4" + struct.pack(">H", 25) + strings("192.0.2.10")) +
            packet("H", strings("client.example.test")) +
            packet("D", b"M" + strings("i", qid)) + packet("M", strings("<sender@example.org>")) +
            packet("D", b"R" + strings("i", qid)) + packet("R", strings(rcpt)))


def content(mail, leadspc):
    """The HEADER packets and end of headers of a raw CRLF mail, and its BODY packets (a list).
    Folds as "\\n" (Postfix); without leadspc one space after the colon is eaten (Postfix milter8.c)."""
    head, _, body = mail.partition(b"\r\n\r\n")
    out = b""
    for line in head.decode().replace("\r\n\t", "\n\t").replace("\r\n ", "\n ").split("\r\n"):
        name, _, value = line.partition(":")
        out += packet("L", strings(name, value[1:] if value.startswith(" ") and not leadspc else value))
    out += packet("N")
    return out, [packet("B", body[i:i + CHUNK]) for i in range(0, len(body), CHUNK)]


def report_mail(rid, count, pad):
    """A mail with count one-record reports (ids rid-1..rid-count) and pad bytes of text."""
    parts = [("r%d.xml" % n, "application/xml", reports.report_xml("%s-%d" % (rid, n), "example.test", [7]))
             for n in range(1, count + 1)]
    if pad > 0:
        parts.append(("pad.txt", "application/octet-stream", b"padding line\n" * (pad // 13 + 1)))
    return reports.mail("rua@example.test", "Report domain: example.test Report-ID: " + rid, parts, msgid=rid)


class Client:
    def __init__(self, path, timeout):
        self.start = time.monotonic()
        self.deadline = self.start + timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.data = b""  # the data of the last reply
        self.leadspc = False

    def ms(self):
        return int((time.monotonic() - self.start) * 1000)

    def send(self, data):
        self.sock.settimeout(max(0.001, self.deadline - time.monotonic()))
        try:
            self.sock.sendall(data)
        except socket.timeout:
            raise Timeout("send")

    def reply(self):
        """The next reply: its letter ("h Name: value" for an added header), or "EOF"."""
        while True:
            if len(self.buf) >= 4:
                size = struct.unpack(">I", self.buf[:4])[0]
                if len(self.buf) >= 4 + size:
                    letter, data = chr(self.buf[4]), self.buf[5:4 + size]
                    self.buf = self.buf[4 + size:]
                    self.data = data
                    if letter == "h":
                        name, value = data.rstrip(b"\0").split(b"\0", 1)
                        return "h %s: %s" % (name.decode(), value.decode())
                    return letter
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise Timeout("reply")
            self.sock.settimeout(left)
            try:
                got = self.sock.recv(65536)
            except socket.timeout:
                raise Timeout("reply")
            except ConnectionResetError:
                got = b""
            if not got:
                return "EOF"
            self.buf += got

    def expect(self, want):
        got = self.reply()
        if got != want:
            raise AssertionError("got %r, want %r" % (got, want))

    def negotiate(self, protocol):
        self.send(packet("O", struct.pack(">III", 6, 0x1FF, protocol)))
        self.expect("O")
        agreed = struct.unpack(">III", self.data[:12])[2]
        self.leadspc = (agreed & 0x100000) != 0

    def abandon(self):
        """Go away once a reply is waiting, unread: the milter's next read fails with ECONNRESET."""
        select.select([self.sock], [], [], max(0, self.deadline - time.monotonic()))
        self.sock.close()


def run(c, args):
    """The action; returns the detail for the ok line."""
    c.negotiate(args.protocol)
    if args.action == "plain":
        c.send(envelope("<bob@example.test>", args.id) + packet("D", b"T") + packet("T"))
        c.expect("a")
        return ""
    if args.action == "malformed":
        c.send(b"\0\0\0\0")
        c.expect("EOF")
        return ""
    if args.action == "no-read":
        one = packet("M", strings("<x@example.org>")) + packet("R", strings("<bob@example.test>")) + packet("T")
        c.send(one * args.messages)
        time.sleep(max(0, c.deadline - time.monotonic()))
        return "messages=%d" % args.messages
    # A report: DATA, then the content with a reply per body chunk, then end of message.
    c.send(envelope("<rua@example.test>", args.id) + packet("T"))
    c.expect("c")
    if args.mail:
        with open(args.mail, "rb") as f:
            mail = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    else:
        mail = report_mail(args.id, args.reports, args.pad)
    head, body = content(mail, c.leadspc)
    if args.action == "vanish-mid":
        c.send(head + body[0])
        c.abandon()
        return ""
    c.send(head + b"".join(body))
    for _ in body:
        c.expect("c")
    c.send(packet("D", b"E" + strings("i", args.id)) + packet("E"))
    if args.action == "vanish-eom":
        c.sock.close()  # its end of message is on its way to a worker: nothing for the loop to send
        return ""
    header = c.reply()
    # With SMFIP_HDR_LEADSPC agreed the milter's value carries its own space (the MTA adds it as given).
    want = "h X-DMARCwatch:%s stored; reports=%d;" % (" " if c.leadspc else "", args.reports)
    if not header.startswith(want):
        raise AssertionError("got %r, want %r..." % (header, want))
    c.expect("a")
    answered = time.time()
    return "bytes=%d" % (len(head) + sum(map(len, body))) + (" answered_ms=%d" % (answered * 1000) if args.mail else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("action", choices=["plain", "report", "malformed", "vanish-mid", "vanish-eom", "no-read"])
    ap.add_argument("--timeout", type=float, default=5)
    ap.add_argument("--id", default="4QCLIENT", help="queue id, and report id prefix")
    ap.add_argument("--reports", type=int, default=1)
    ap.add_argument("--pad", type=int, default=0)
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--mail", help="report: send this mail file instead of a generated one")
    ap.add_argument("--protocol", type=lambda v: int(v, 0), default=0x1FFFFF, help="protocol flags offered")
    args = ap.parse_args()
    c = None
    try:
        c = Client(args.socket, args.timeout)
        detail = run(c, args)
        print("%s ok ms=%d %s" % (args.action, c.ms(), detail))
        return 0
    except Timeout as e:
        print("%s FAIL ms=%d timeout (%s) after %.1fs" % (args.action, c.ms(), e, args.timeout))
    except (OSError, AssertionError) as e:
        print("%s FAIL ms=%d %s" % (args.action, c.ms() if c else 0, e))
    return 1


if __name__ == "__main__":
    sys.exit(main())
