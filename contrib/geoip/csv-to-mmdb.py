#!/usr/bin/env python3
"""csv-to-mmdb.py - write an MMDB file (MaxMind DB format 2.0) from CSV address ranges.

Users: contrib/geoip/fetch-geoip.sh converts ip-location-db's asn CSV at install time;
t/unit/test-geoip.cc makes its small test files from t/data/geoip/*.csv.  Python 3
standard library only: no MaxMind writer (Perl or Go) is needed on the target machine.

Input: CSV rows "FIRST,LAST,FIELD..." where FIRST and LAST are IPv4 or IPv6 addresses in
text (the range is inclusive and need not lie on CIDR boundaries); quoting as RFC 4180
(a doubled quote inside quotes).  Several files may be given (ip-location-db ships IPv4 and IPv6 apart).
Layouts (--layout) name the FIELD columns and the record written per range:
  asn               ASN,ORG -> {"autonomous_system_number": uint32,
                               "autonomous_system_organization": string (left out if empty)}
                    (MaxMind GeoLite2-ASN's field names: one reader serves both)
  country-code      CC      -> {"country_code": string}      (ip-location-db's country MMDB)
  geolite2-country  CC[,RC] -> {"country": {"iso_code": CC, "names": {"en": CC}},
                               "registered_country": {"iso_code": RC}} (GeoLite2-Country,
                    trimmed; an empty CC leaves "country" out, as GeoLite2 does for some
                    networks, and RC defaults to CC)

Output: --ip-version 6 (default) puts IPv4 at ::/96 as MaxMind's files do; --ip-version 4
refuses IPv6 rows.  Record size 24, 28 or 32 bits, the smallest that fits (--record-size
forces a larger one: the tests read all three).  Equal records
are stored once; adjacent ranges with equal records are merged first.  The file is written
to OUT.tmp and renamed, so a reader never sees half a file.  --epoch (or SOURCE_DATE_EPOCH)
fixes build_epoch for a reproducible file.

Errors (exit 1, "FILE:LINE: message" on stderr): a malformed address or number, LAST before
FIRST, IPv4 and IPv6 mixed in a row, a field that does not fit, and with --strict ranges that
overlap (without it: a warning, and the range that starts first keeps the shared addresses).

The tree: ranges sorted by FIRST; build(node covering [lo, lo + 2^bits)) returns "empty"
when no range meets the node, "data" when one range covers all of it, else a node whose
children are the two halves.  This is the CIDR split done in one pass: every leaf is the
largest aligned block inside one range, so a range like 10.0.0.3-10.0.0.9 becomes
10.0.0.3/32, 10.0.0.4/30, 10.0.0.8/31.
"""

import argparse
import bisect
import csv
import io
import ipaddress
import os
import struct
import sys
import time

sys.setrecursionlimit(10000)

METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"
EMPTY = -1  # child value: no data; >= 0: node id; <= -2: data offset -(2 + offset)


class InputError(Exception):
    pass


# ---- data section encoding (MaxMind DB spec, "Output Data Section") ----

def _control(type_number, size):
    """Control byte(s) for a type (1..15) and payload size."""
    out = bytearray()
    if size < 29:
        first, extra = size, b""
    elif size < 29 + 256:
        first, extra = 29, bytes([size - 29])
    elif size < 285 + 65536:
        first, extra = 30, struct.pack(">H", size - 285)
    elif size < 65821 + (1 << 24):
        first, extra = 31, struct.pack(">I", size - 65821)[1:]
    else:
        raise InputError("value too large for MMDB")
    if type_number <= 7:
        out.append((type_number << 5) | first)
    else:
        out.append(first)  # extended type: type 0 in the control byte, then type - 7
        out.append(type_number - 7)
    out += extra
    return bytes(out)


class U16(int):
    pass


class U32(int):
    pass


class U64(int):
    pass


def encode(value):
    """Encode str, U16/U32/U64, dict (map, keys str) and list (array)."""
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _control(2, len(raw)) + raw
    if isinstance(value, (U16, U32, U64)):
        limit, type_number = {U16: (1 << 16, 5), U32: (1 << 32, 6), U64: (1 << 64, 9)}[type(value)]
        if not 0 <= value < limit:
            raise InputError("number %d out of range" % value)
        raw = int(value).to_bytes((int(value).bit_length() + 7) // 8, "big")
        return _control(type_number, len(raw)) + raw
    if isinstance(value, dict):
        out = bytearray(_control(7, len(value)))
        for key, item in value.items():
            out += encode(key) + encode(item)
        return bytes(out)
    if isinstance(value, list):
        out = bytearray(_control(11, len(value)))
        for item in value:
            out += encode(item)
        return bytes(out)
    raise TypeError("cannot encode %r" % (value,))


# ---- input ----

def record_for(layout, fields, where):
    if layout == "asn":
        if len(fields) != 2:
            raise InputError("%s: want FIRST,LAST,ASN,ORG" % where)
        asn_text, org = fields
        if not asn_text.isdigit() or int(asn_text) >= 1 << 32:
            raise InputError("%s: '%s' is not an AS number" % (where, asn_text))
        record = {"autonomous_system_number": U32(int(asn_text))}
        if org:
            record["autonomous_system_organization"] = org
        return record
    def country(code):
        if len(code) != 2 or not code.isascii() or not code.isalpha():
            raise InputError("%s: '%s' is not a two-letter country code" % (where, code))
        return code.upper()

    if layout == "country-code":
        if len(fields) != 1:
            raise InputError("%s: want FIRST,LAST,COUNTRY" % where)
        return {"country_code": country(fields[0])}
    if len(fields) not in (1, 2) or (not fields[0] and len(fields) == 1):
        raise InputError("%s: want FIRST,LAST,COUNTRY[,REGISTERED-COUNTRY]" % where)
    record = {}
    if fields[0]:
        code = country(fields[0])
        record["country"] = {"iso_code": code, "names": {"en": code}}
    registered = fields[1] if len(fields) == 2 and fields[1] else fields[0]
    record["registered_country"] = {"iso_code": country(registered)}
    return record


def read_ranges(paths, layout, ip_version, strict):
    """[(first, last, encoded record, where)] sorted, from every CSV file."""
    ranges = []
    for path in paths:
        with open(path, newline="", encoding="utf-8") as handle:
            for number, row in enumerate(csv.reader(handle), start=1):
                where = "%s:%d" % (path, number)
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) < 3:
                    raise InputError("%s: want FIRST,LAST,FIELD..." % where)
                try:
                    first = ipaddress.ip_address(row[0].strip())
                    last = ipaddress.ip_address(row[1].strip())
                except ValueError as error:
                    raise InputError("%s: %s" % (where, error)) from None
                if first.version != last.version:
                    raise InputError("%s: FIRST and LAST are not both IPv4 or both IPv6" % where)
                if first.version == 6 and ip_version == 4:
                    raise InputError("%s: IPv6 range in an IPv4 (--ip-version 4) file" % where)
                if int(last) < int(first):
                    raise InputError("%s: LAST %s is before FIRST %s" % (where, last, first))
                record = encode(record_for(layout, row[2:], where))
                ranges.append((int(first), int(last), record, where))
    ranges.sort(key=lambda r: r[0])
    # Overlapping rows: with --strict an error; else the range that starts first keeps the
    # shared addresses (the later row is cut to what follows it, or dropped when inside it)
    # and a warning names both rows.  ip-location-db's asn CSV of 2026-06-17 has one such
    # pair (214.95.0.0-215.0.255.255 AS749 and 215.0.0.0-215.1.3.255 AS721).  Touching
    # ranges with the same record become one, which makes a smaller tree.
    merged = []
    for first, last, record, where in ranges:
        if merged and first <= merged[-1][1]:
            if strict:
                raise InputError("%s: range overlaps the one from %s" % (where, merged[-1][3]))
            print("csv-to-mmdb: warning: %s: range overlaps the one from %s; the shared addresses keep "
                  "the earlier record" % (where, merged[-1][3]), file=sys.stderr)
            if last <= merged[-1][1]:
                continue
            first = merged[-1][1] + 1
        if merged and first == merged[-1][1] + 1 and record == merged[-1][2]:
            merged[-1] = (merged[-1][0], last, record, merged[-1][3])
        else:
            merged.append((first, last, record, where))
    return merged


# ---- tree ----

class TreeBuilder:
    def __init__(self, ranges, bits):
        self.firsts = [r[0] for r in ranges]
        self.lasts = [r[1] for r in ranges]
        self.records = [r[2] for r in ranges]
        self.bits = bits
        self.left = []
        self.right = []
        self.data = bytearray()
        self.offsets = {}  # encoded record -> offset in the data section

    def data_value(self, index):
        record = self.records[index]
        offset = self.offsets.get(record)
        if offset is None:
            offset = len(self.data)
            self.offsets[record] = offset
            self.data += record
        return -2 - offset

    def child(self, lo, bits, i, j):
        """Value for the block [lo, lo + 2^bits) met by ranges i..j-1."""
        if i == j:
            return EMPTY
        if j - i == 1 and self.firsts[i] <= lo and self.lasts[i] >= lo + (1 << bits) - 1:
            return self.data_value(i)
        return self.node(lo, bits, i, j)

    def node(self, lo, bits, i, j):
        node_id = len(self.left)
        self.left.append(EMPTY)
        self.right.append(EMPTY)
        mid = lo + (1 << (bits - 1))
        k = bisect.bisect_left(self.firsts, mid, i, j)  # ranges i..k-1 start in the left half
        self.left[node_id] = self.child(lo, bits - 1, i, k)
        right_start = k - 1 if k > i and self.lasts[k - 1] >= mid else k
        self.right[node_id] = self.child(mid, bits - 1, right_start, j)
        return node_id

    def build(self):
        # The root is always a node (node 0), even for an empty or all-covering input.
        self.node(0, self.bits, 0, len(self.firsts))


def tree_bytes(builder, wanted_size):
    node_count = len(builder.left)
    largest = node_count + 16 + len(builder.data)
    record_size = 24 if largest < 1 << 24 else 28 if largest < 1 << 28 else 32
    if largest >= 1 << 32:
        raise InputError("database too large for MMDB")
    record_size = max(record_size, wanted_size or 0)

    def value(v):
        if v >= 0:
            return v
        if v == EMPTY:
            return node_count
        return node_count + 16 + (-2 - v)

    out = io.BytesIO()
    for left, right in zip(builder.left, builder.right):
        a, b = value(left), value(right)
        if record_size == 24:
            out.write(a.to_bytes(3, "big") + b.to_bytes(3, "big"))
        elif record_size == 28:
            middle = ((a >> 24) << 4) | (b >> 24)
            out.write((a & 0xFFFFFF).to_bytes(3, "big") + bytes([middle]) + (b & 0xFFFFFF).to_bytes(3, "big"))
        else:
            out.write(a.to_bytes(4, "big") + b.to_bytes(4, "big"))
    return out.getvalue(), node_count, record_size


def write_mmdb(out_path, ranges, ip_version, database_type, description, epoch, record_size=None):
    builder = TreeBuilder(ranges, 128 if ip_version == 6 else 32)
    builder.build()
    tree, node_count, record_size = tree_bytes(builder, record_size)
    metadata = {
        "binary_format_major_version": U16(2),
        "binary_format_minor_version": U16(0),
        "build_epoch": U64(epoch),
        "database_type": database_type,
        "description": {"en": description},
        "ip_version": U16(ip_version),
        "languages": ["en"],
        "node_count": U32(node_count),
        "record_size": U16(record_size),
    }
    temp = out_path + ".tmp"
    with open(temp, "wb") as handle:
        handle.write(tree)
        handle.write(b"\0" * 16)  # the data section separator
        handle.write(builder.data)
        handle.write(METADATA_MARKER)
        handle.write(encode(metadata))
    os.replace(temp, out_path)
    return node_count, record_size


def main(argv):
    parser = argparse.ArgumentParser(description="Write an MMDB file from CSV address ranges.")
    parser.add_argument("-V", "--version", action="version", version="csv-to-mmdb.py (dmarcwatch)")
    parser.add_argument("--layout", choices=["asn", "country-code", "geolite2-country"], required=True)
    parser.add_argument("--ip-version", type=int, choices=[4, 6], default=6)
    parser.add_argument("--type", dest="database_type", help="metadata database_type")
    parser.add_argument("--description", default="", help="metadata description (en)")
    parser.add_argument("--record-size", type=int, choices=[24, 28, 32],
                        help="at least this record size (default: the smallest that fits)")
    parser.add_argument("--strict", action="store_true", help="overlapping ranges are an error")
    parser.add_argument("--epoch", type=int, help="build_epoch (default SOURCE_DATE_EPOCH, else now)")
    parser.add_argument("output")
    parser.add_argument("csv", nargs="+")
    args = parser.parse_args(argv)
    epoch = args.epoch
    if epoch is None:
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH", int(time.time())))
    database_type = args.database_type or {"asn": "DMARCwatch-ASN", "country-code": "DMARCwatch-Country",
                                           "geolite2-country": "DMARCwatch-Country"}[args.layout]
    try:
        ranges = read_ranges(args.csv, args.layout, args.ip_version, args.strict)
        node_count, record_size = write_mmdb(args.output, ranges, args.ip_version, database_type,
                                             args.description, epoch, args.record_size)
    except (InputError, OSError, UnicodeDecodeError, csv.Error) as error:
        print("csv-to-mmdb: %s" % error, file=sys.stderr)
        return 1
    print("csv-to-mmdb: %s: %d ranges, %d nodes, %d-bit records" % (args.output, len(ranges), node_count,
                                                                     record_size), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
