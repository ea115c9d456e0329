#!/usr/bin/env python3
"""devlog-sink.py - a stand-in for syslog on a private /dev/log (e2e tests, bench).

    devlog-sink.py SOCKET FILE

Binds the unix datagram socket SOCKET (mode 0666: daemons log after dropping
privileges) and appends every message received to FILE, one per line, as
syslog(3) sent it ("<PRI>Mon dd hh:mm:ss tag[pid]: text").  Runs until
killed.  Standard library only.
"""
import os
import socket
import sys


def main():
    path, out = sys.argv[1], sys.argv[2]
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o666)
    with open(out, "ab", buffering=0) as f:
        while True:
            data = sock.recv(65536)
            f.write(data.rstrip(b"\0\r\n") + b"\n")


if __name__ == "__main__":
    main()
