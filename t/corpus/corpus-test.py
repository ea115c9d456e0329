#!/usr/bin/env python3
"""Corpus acceptance test: every file of shared/corpus/MANIFEST.tsv through
`dmarcwatch --db NEW ingest --json FILE`, a fresh store per file.

- clean classes (real, real-email, synthetic, spec-example, dmarcbis, and edge
  cases whose XML is valid): the stored records and messages equal the
  manifest's record_count and sum_of_counts exactly (a manifest total of 0
  means no report may be found: exit 1 with an error);
- broken inputs (class broken, and edge cases whose XML is not valid): a clear
  error (exit 1, "error" set) or a recovered parse (exit 0) - never a crash,
  a hang or an empty error;
- the whole corpus ingested twice into one store: the second pass stores
  nothing new.

The corpus is $CORPUS when set, else shared/corpus beside the nearest ancestor
of SRCDIR or BUILDDIR that has one (t/lib/find-corpus.sh: shared/ beside the
checkout, found from a distcheck tree inside the build directory too).
Prints one line per check and ends with "N passed, M failed".  Exit 77
(skipped) when the corpus is absent.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, finish  # noqa: E402

CLEAN = {"real", "real-email", "synthetic", "spec-example", "dmarcbis", "edge"}
TIMEOUT = 60




def ingest(binary, store, paths):
    """Run ingest --json; return (exit code, list of per-input JSON objects, stderr)."""
    proc = subprocess.run([binary, "--db", store, "ingest", "--json", *paths],
                          capture_output=True, timeout=TIMEOUT * max(1, len(paths) // 10))
    objects = []
    for line in proc.stdout.decode("utf-8").splitlines():
        objects.append(json.loads(line))
    return proc.returncode, objects, proc.stderr.decode("utf-8", "replace")


# Specification examples dated before 2000: refused on purpose (a range wholly before 2000 is
# not a real report; see checkReportDates), with an error saying so.
REFUSED = {
    "domainaware__parsedmarc/rfc9990-sample.xml": "before 2000",
    "ietf-wg-dmarc__draft-ietf-dmarc-aggregate-reporting/dmarc-xmlalt-0.2.xml": "before 2000",
}


def find_corpus(srcdir, builddir):
    """CORPUS when set (an override); else shared/corpus beside an ancestor of the source or the
    build tree (t/lib/find-corpus.sh), so that a distcheck tree finds it too; else ""."""
    if os.environ.get("CORPUS"):
        return os.environ["CORPUS"]
    finder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib", "find-corpus.sh")
    return subprocess.run(["sh", finder, srcdir, builddir], capture_output=True, text=True).stdout.strip()


def main():
    srcdir = os.environ.get("SRCDIR", ".")
    builddir = os.environ.get("BUILDDIR", ".")
    corpus = find_corpus(srcdir, builddir)
    binary = os.path.join(builddir, "collector", "cli", "dmarcwatch")
    if not corpus:
        print(f"# SKIP: CORPUS not set and no shared/corpus/MANIFEST.tsv beside {srcdir}, {builddir} or a parent")
        return 77
    manifest = os.path.join(corpus, "MANIFEST.tsv")
    if not os.path.exists(manifest):
        print(f"# SKIP: no corpus at {corpus}")
        return 77
    print(f"# corpus: {corpus}")

    rows = []
    with open(manifest, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            rows.append(dict(zip(header, line.rstrip("\n").split("\t"))))

    with tempfile.TemporaryDirectory(prefix="dmarcwatch-corpus.") as tmp:
        all_paths = []
        for n, row in enumerate(rows):
            path = os.path.join(corpus, "files", row["path"])
            notes = row["notes"]
            cls = notes.split(";")[0].strip().removeprefix("class=")
            clean = cls in CLEAN and not (cls == "edge" and row["valid_xml"] == "no")
            want_records, want_messages = int(row["record_count"]), int(row["sum_of_counts"])
            store = os.path.join(tmp, f"store{n}")
            all_paths.append(path)
            try:
                rc, objects, stderr = ingest(binary, store, [path])
            except subprocess.TimeoutExpired:
                check(False, row["path"], f"hang: no answer in {TIMEOUT}s")
                continue
            if rc < 0 or rc > 2 or len(objects) != 1:
                check(False, row["path"], f"crash or bad output: exit {rc}, {len(objects)} JSON lines, stderr {stderr!r}")
                continue
            obj = objects[0]
            got_records = sum(r["records"] for r in obj["reports"])
            got_messages = sum(r["messages"] for r in obj["reports"])
            if row["path"] in REFUSED:
                reason = REFUSED[row["path"]]
                check(rc == 1 and isinstance(obj["error"], str) and reason in obj["error"] and got_records == 0,
                      f"{row['path']} ({cls}): refused, error {obj['error']!r}",
                      f"want exit 1 and an error with {reason!r}, got exit {rc}, {got_records} records")
            elif clean and want_records > 0:
                check(rc == 0 and obj["error"] is None and got_records == want_records and got_messages == want_messages,
                      f"{row['path']} ({cls}): {got_records} records, {got_messages} messages",
                      f"want {want_records}/{want_messages}, exit {rc}, error {obj['error']!r}")
            elif clean:
                check(rc == 1 and obj["error"] and got_records == 0,
                      f"{row['path']} ({cls}): no report, error {obj['error']!r}",
                      f"want exit 1 and an error, got exit {rc}, {got_records} records")
            else:
                recovered = rc == 0 and obj["error"] is None and len(obj["reports"]) > 0
                clear_error = rc == 1 and isinstance(obj["error"], str) and len(obj["error"]) > 5
                how = "recovered" if recovered else f"error {obj['error']!r}"
                check(recovered or clear_error, f"{row['path']} ({cls}, broken): {how}",
                      f"exit {rc}, error {obj['error']!r}")

        # Dedup: the same corpus twice into one store stores nothing the second time.
        store = os.path.join(tmp, "twice")
        _, first, _ = ingest(binary, store, all_paths)
        _, second, _ = ingest(binary, store, all_paths)
        stored_first = sum(1 for o in first for r in o["reports"] if r["status"] == "stored")
        stored_again = [f"{o['path']}: {r['report_id']}" for o in second for r in o["reports"] if r["status"] == "stored"]
        dups_second = sum(1 for o in second for r in o["reports"] if r["status"] == "duplicate")
        check(stored_first > 0 and not stored_again and dups_second >= stored_first,
              f"corpus ingested twice: {stored_first} reports stored, then {len(stored_again)} new, {dups_second} duplicates",
              "; ".join(stored_again[:5]))

        # Naming over the whole corpus (issue 11): the services add up to the stored messages,
        # and the share of the volume that is named (a catalog service), a forwarder, or the
        # domain's own passing signature is printed (README and the closing notes quote it).
        naming_share(binary, store, tmp, sum(r["messages"] for o in first for r in o["reports"]
                                             if r["status"] == "stored"))

    return finish()


def naming_share(binary, store, tmp, stored_messages):
    conf = os.path.join(tmp, "naming.conf")
    # The catalog of this script's own tree (SRCDIR may be a test's stand-in tree).
    catalog = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "contrib", "services")
    with open(conf, "w") as f:
        f.write("ServiceCatalog %s\n" % catalog)
    p = subprocess.run([binary, "-c", conf, "--db", store, "services", "--json", "--since", "all"],
                       capture_output=True, timeout=TIMEOUT)
    if p.returncode != 0:
        check(False, "services --json over the corpus", p.stderr.decode())
        return
    shares = {}
    total = 0
    for domain in json.loads(p.stdout)["domains"]:
        for svc in domain["services"]:
            kind = ("named service" if svc["id"] else "forwarder" if svc["class"] == "forwarder"
                    else "own-domain identity" if svc["category"] == "own-domain" else "unnamed " + svc["class"])
            shares[kind] = shares.get(kind, 0) + svc["messages"]
            total += svc["messages"]
    check(total == stored_messages, f"services over the corpus add up to its {stored_messages} messages", total)
    check(shares.get("named service", 0) > 0, "some of the corpus is named from the catalog", shares)
    print("# naming share of message volume: " +
          ", ".join(f"{k} {v} ({100.0 * v / max(total, 1):.2f}%)" for k, v in sorted(shares.items(), key=lambda kv: -kv[1])))


if __name__ == "__main__":
    sys.exit(main())
