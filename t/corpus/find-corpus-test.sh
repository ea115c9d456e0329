#!/bin/sh
# The corpus test finds shared/corpus from a distcheck-like tree (issue 10): a fake checkout
# with shared/ beside it, a build directory inside it and a distcheck tree inside that
# (build/dmarcwatch-0/_build/sub, sources in build/dmarcwatch-0), and a one-report corpus.
# Before, corpus-test.py looked only at SRCDIR/../shared/corpus and skipped there (77).
# CORPUS, when set, is honoured as it is.  Ends with "N passed, M failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
srcdir=${SRCDIR:-$here/../..}
builddir=${BUILDDIR:-.}
passed=0 failed=0
check() { # check OK WHAT [DETAIL]
  if [ "$1" = 0 ]; then passed=$((passed + 1)); echo "ok - $2"
  else failed=$((failed + 1)); echo "not ok - $2${3:+: $3}"; fi
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dmarcwatch-find-corpus.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/shared/corpus/files" "$tmp/checkout/build/dmarcwatch-0/_build/sub/collector/cli"
cp "$srcdir/t/data/samples/parsedmarc-zoho.xml" "$tmp/shared/corpus/files/zoho.xml"
printf 'path\tsource_repo\tsource_path\tlicense_of_repo\tformat\treporter_org\tpolicy_domain\trecord_count\tsum_of_counts\tbytes_uncompressed\tvalid_xml\tnotes\n' \
  > "$tmp/shared/corpus/MANIFEST.tsv"
printf 'zoho.xml\tt/data\tsamples/parsedmarc-zoho.xml\t-\txml\tzoho.com\texample.com\t8\t9\t0\tyes\tclass=real\n' \
  >> "$tmp/shared/corpus/MANIFEST.tsv"
dist=$tmp/checkout/build/dmarcwatch-0
sub=$dist/_build/sub
ln -s "$(cd "$builddir" && pwd)/collector/cli/dmarcwatch" "$sub/collector/cli/dmarcwatch"
want=$(cd "$tmp/shared/corpus" && pwd -P)

# The finder: from the distcheck sources, and from its build tree alone.
got=$(sh "$srcdir/t/lib/find-corpus.sh" "$sub/../..")
[ "$got" = "$want" ]; check $? "find-corpus.sh from the distcheck sources (_build/sub/../..)" "got '$got'"
got=$(sh "$srcdir/t/lib/find-corpus.sh" "$tmp/no-such-dir" "$sub")
[ "$got" = "$want" ]; check $? "find-corpus.sh from the distcheck build tree" "got '$got'"

# The corpus test runs there (it does not skip) and passes on the one report.
out=$(env -u CORPUS SRCDIR="$sub/../.." BUILDDIR="$sub" python3 "$srcdir/t/corpus/corpus-test.py" 2>&1); rc=$?
echo "$out" | sed 's/^/#   /'
[ $rc = 0 ] && echo "$out" | grep -q "^# corpus: $want\$" && echo "$out" | grep -q '^[1-9][0-9]* passed, 0 failed$'
check $? "corpus-test.py runs from the distcheck tree (exit $rc)"

# An explicit CORPUS wins, even when it names nothing (then the test skips).
out=$(CORPUS="$tmp/missing" SRCDIR="$sub/../.." BUILDDIR="$sub" python3 "$srcdir/t/corpus/corpus-test.py" 2>&1); rc=$?
[ $rc = 77 ] && echo "$out" | grep -q "no corpus at $tmp/missing"
check $? "CORPUS overrides the search (exit $rc)" "$out"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
