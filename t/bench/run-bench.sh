#!/bin/bash
# run-bench.sh - `make bench`: dmarcwatch ingest against the libxml2+zlib floor.
#
# What it measures (issue 4), whole process, several repetitions each
# (median, min-max):
#   1. `dmarcwatch --db NEW ingest --json FILE` into a fresh store, for
#      generated reports of 2,000 / 200,000 / 2,000,000 records, xml and gz,
#      next to the floor (t/bench/floor: inflate + xmlTextReader scan only);
#      prints ingest/floor (CPU: the target; wall), records/s, MB/s
#      (uncompressed XML), peak RssAnon (the memory target: the process's own
#      memory) and RssFile (mapped store pages: page cache) of a sampled run,
#      GNU time's peak RSS (both together), and checks that ingest reports
#      exactly the generator's totals; then CPU of 2M against 200k records
#      (cost linear in records).
#   1b. Report mail through dmarcwatch-milter while the CLI ingests the
#      2,000,000-record report into the same store (t/bench/bench-lock.sh):
#      the write lock is never held for long.  Needs miltertest.
#   2. `dmarcwatch status --json` (7 days, 90 days, all) on a store holding a
#      year of daily reports for 100 domains (36,500 reports, ~3.6 million
#      records), filled by one `dmarcwatch ingest DIR` call (itself timed:
#      reports/s); and `status --since all` on one domain with over a million
#      distinct source IPs (peak RSS target 64 MiB); `report --html` of one domain
#      over the year (target < 1 s).
#   3. Mail through a private Postfix (t/bench/bench-postfix.sh), when root,
#      Postfix and the milter are there; otherwise a note says why not.
#   4. Plain mail through private Sendmail instances with and without the milter
#      (t/bench/bench-sendmail.sh), when root with the sendmail .debs of setup.sh.
#   5. Alert latency: a report stored by the milter to dmarcwatchd's alert in a private
#      syslog-ng's JSON (t/bench/bench-alert-latency.sh; target < 2 s), when root with
#      syslog-ng.
#   6. The milter's added time per report mail with the authenticity checks (SPF, DKIM, DMARC
#      against a loopback unbound) on against off, side by side through one private Postfix
#      (t/bench/bench-report-auth.sh), when root with postfix, unbound and libopendkim.
# Results go to stdout as Markdown and into t/bench/RESULTS.md between the
# "bench:begin"/"bench:end" markers (text around them is kept).
#
# Environment (all optional):
#   BENCH_CACHE   where generated inputs are kept between runs
#                 (default ${TMPDIR:-/tmp}/dmarcwatch-bench-cache; 2M records
#                 is 1.5 GB of XML, ~10 s to generate)
#   BENCH_SIZES   record counts (default "2000 200000 2000000")
#   BENCH_REPS    repetitions per measurement (default 5; 3 at >= 1M records)
#   BENCH_LOCK    0 skips part 1b; BENCH_LOCK_RECORDS its input (2000000)
#   BENCH_STATUS  0 skips part 2;  BENCH_POSTFIX  0 skips part 3;  BENCH_SENDMAIL  0 skips part 4
#   BENCH_ALERT_LATENCY  0 skips part 5;  BENCH_ALERT_N  its number of report mails (20)
#   BENCH_REPORT_AUTH  0 skips part 6;  BENCH_AUTH_N  its number of report mails per side (40)
#   BENCH_STATUS_STORE  keep the year store in this directory (and the
#                 million-source one in DIR-1m) and reuse them when they exist
#                 (filling them takes minutes); default: fresh stores every
#                 run, removed at exit
#   BENCH_RESULTS file to update (default $SRCDIR/t/bench/RESULTS.md; "-" = none)
#   BENCH_FLOOR_FLAGS extra floor options (e.g. --plain: no NOBLANKS/COMPACT)
#   SRCDIR BUILDDIR   set by make; default: this script's tree and $PWD
#
# Exit 0 when every measurement ran and every total matched; 1 otherwise
# (targets missed are reported, not failed: this is a measurement).
# Never part of `make check`.  Uses only what it creates under one mktemp dir
# (removed at exit) and the cache dir.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench-lib.sh source-path=SCRIPTDIR
. "$here/bench-lib.sh"

SRCDIR=${SRCDIR:-$(cd "$here/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$PWD}
GEN=$BUILDDIR/t/bench/generate-report
FLOOR=$BUILDDIR/t/bench/floor
DW=${DMARCWATCH:-$BUILDDIR/collector/cli/dmarcwatch}
SIZES=${BENCH_SIZES:-2000 200000 2000000}
REPS=${BENCH_REPS:-5}
CACHE=${BENCH_CACHE:-${TMPDIR:-/tmp}/dmarcwatch-bench-cache}
RESULTS=${BENCH_RESULTS:-$SRCDIR/t/bench/RESULTS.md}
read -r -a FLOOR_FLAGS <<<"${BENCH_FLOOR_FLAGS:-}"
STATUS_DOMAINS=${BENCH_STATUS_DOMAINS:-100}
STATUS_DAYS=${BENCH_STATUS_DAYS:-365}
STATUS_RECORDS=${BENCH_STATUS_RECORDS:-100}
STATUS_BEGIN=1704067200 # 2024-01-01; status's today is pinned to the last day (DMARCWATCH_NOW)

bench_require "$BENCH_TIME" "$PYTHON"
for prog in "$GEN" "$FLOOR" "$DW"; do
  [ -x "$prog" ] || { echo "run-bench: $prog not built (make bench builds it)" >&2; exit 1; }
done

BENCH_LOAD=$(cut -d' ' -f1-3 /proc/loadavg) # before we add our own
export BENCH_LOAD
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dmarcwatch-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
failures=0
fail() { echo "run-bench: $*" >&2; failures=$((failures + 1)); }
# part NAME OUT SCRIPT ARGS...: run one of the bench scripts into OUT (Markdown); its exit 77
# (skip) and failures become a line of OUT.  Returns the script's exit status.
part() {
  local name=$1 out=$2 rc=0
  shift 2
  bash "$@" >"$out" 2>"$WORK/$name.err" || rc=$?
  if [ $rc -eq 77 ]; then
    echo "Skipped: $(tail -n1 "$WORK/$name.err")" >"$out"
  elif [ $rc -ne 0 ]; then
    fail "$(basename "$1") exit $rc: $(tail -n5 "$WORK/$name.err")"
    echo "Failed (exit $rc): $(tail -n3 "$WORK/$name.err" | tr '|\n' '  ')" >>"$out"
  fi
  return $rc
}

# Step: inputs.  The cache key is a fingerprint of the generator's output, so
# a changed generator never reuses stale files.
fp=$("$GEN" --records 64 --seed 1 2>/dev/null | cksum | cut -d' ' -f1)
IN=$CACHE/inputs-$fp
mkdir -p "$IN"
gen_input() {
  local n=$1
  [ -s "$IN/r$n.totals" ] && return 0
  echo "run-bench: generating $n records into $IN" >&2
  "$GEN" --records "$n" --seed 1 --report-id "bench-$n" --out "$IN/r$n.xml" 2>/dev/null
  "$GEN" --records "$n" --seed 1 --report-id "bench-$n" --gzip --out "$IN/r$n.xml.gz" \
    --totals "$IN/r$n.totals.tmp" 2>/dev/null
  mv "$IN/r$n.totals.tmp" "$IN/r$n.totals" # written last: marks the set complete
}

# check_ingest JSON TOTALS: one input line, one stored report, the totals right.
check_ingest() {
  "$PYTHON" - "$1" "$2" <<'EOF'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
want = json.load(open(sys.argv[2]))
if len(lines) != 1:
    sys.exit(f"want 1 JSON line, got {len(lines)}")
got = json.loads(lines[0])
if got.get("error"):
    sys.exit(f"error: {got['error']}")
reps = got.get("reports", [])
if len(reps) != 1 or reps[0].get("status") != "stored":
    sys.exit(f"want 1 stored report, got {reps!r:.200}")
r = reps[0]
if (r.get("records"), r.get("messages")) != (want["records"], want["messages"]):
    sys.exit(f"records/messages got {r.get('records')}/{r.get('messages')} want {want['records']}/{want['messages']}")
EOF
}

TABLE=$WORK/table.md
{
  echo "| input | records | XML MB | ingest wall, median (min-max) | floor wall, median (min-max) | ingest/floor wall | ingest CPU | floor CPU | ingest/floor CPU | records/s | XML MB/s | ingest peak RssAnon (sampled) | ingest peak RssFile (sampled) | ingest peak RSS (GNU time) | floor peak RSS | targets |"
  echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
} >"$TABLE"
# Cost linear in records: the 2M runs of each format are paired with a 200k ingest of the same
# format right after each one, so that every ratio is taken under the same machine conditions
# (CPU speed here drifts by 10-30 % between blocks of runs).  LIN_PAIRS["xml.gz"]: the
# "CPU_2M CPU_200k" pairs; FCPU: the floor's median CPU per input, for reference.
LIN_SMALL=200000 LIN_BIG=2000000
declare -A FCPU LIN_PAIRS

# Step: part 1, ingest against the floor, interleaving the two so that drift
# (thermal, noisy neighbours) hits both alike.
for n in $SIZES; do
  gen_input "$n"
  reps=$REPS
  [ "$n" -ge 1000000 ] && [ -z "${BENCH_REPS:-}" ] && reps=3
  xml_bytes=$(stat -c %s "$IN/r$n.xml")
  for fmt in xml xml.gz; do
    file=$IN/r$n.$fmt
    fw=() fr=() fc=() iw=() ir=() ic=() ierr=""
    for ((rep = 1; rep <= reps; rep++)); do
      if measure "$WORK/floor.out" "$WORK/floor.err" "$FLOOR" "${FLOOR_FLAGS[@]}" "$file"; then
        fw+=("$M_WALL") fr+=("$M_RSS") fc+=("$M_CPU")
      else
        fail "floor failed on $file: $(head -c 300 "$WORK/floor.err")"
      fi
      [ -n "$ierr" ] && continue
      rm -rf "$WORK/store"
      rc=0
      measure "$WORK/ingest.json" "$WORK/ingest.err" "$DW" --db "$WORK/store" ingest --json "$file" || rc=$?
      if [ $rc -ne 0 ]; then
        ierr="exit status $rc: $(head -c 300 "$WORK/ingest.err") $(head -c 300 "$WORK/ingest.json")"
      elif ! why=$(check_ingest "$WORK/ingest.json" "$IN/r$n.totals" 2>&1); then
        ierr="wrong result: $why"
      else
        iw+=("$M_WALL") ir+=("$M_RSS") ic+=("$M_CPU")
        big_cpu=$M_CPU
        rm -rf "$WORK/store"
        if [ "$n" = "$LIN_BIG" ] && [ -s "$IN/r$LIN_SMALL.totals" ]; then
          why=""
          if measure "$WORK/pair.json" "$WORK/pair.err" "$DW" --db "$WORK/store" ingest --json "$IN/r$LIN_SMALL.$fmt" &&
            why=$(check_ingest "$WORK/pair.json" "$IN/r$LIN_SMALL.totals" 2>&1); then
            LIN_PAIRS[$fmt]+="$big_cpu $M_CPU "
          else
            fail "ingest r$LIN_SMALL.$fmt (paired with r$n): ${why:-$(head -c 300 "$WORK/pair.err")}"
          fi
        fi
      fi
      if [ -n "$ierr" ]; then fail "ingest r$n.$fmt: $ierr"; fi
      rm -rf "$WORK/store"
    done
    read -r fmed fmin fmax <<<"$(stats "${fw[@]}")"
    read -r frss _ _ <<<"$(stats "${fr[@]}")"
    read -r fcpu _ _ <<<"$(stats "${fc[@]}")"
    if [ -n "$ierr" ] || [ ${#iw[@]} -eq 0 ]; then
      echo "| r$n.$fmt | $n | $((xml_bytes / 1000000)) | failed: ${ierr//|//} | $(fmt_s "$fmed") ($(fmt_s "$fmin")-$(fmt_s "$fmax")) | - | - | - | - | - | - | - | - | - | $(fmt_mib "$frss") | - |" >>"$TABLE"
      continue
    fi
    # One more run, sampled from /proc (not timed: the sampler shares the cores), for the
    # process's own memory (RssAnon: heap, stacks) apart from the mapped store (RssFile: the
    # LMDB write map's pages are page cache, given back under memory pressure like any file's).
    anon="-" filepg="-" kanon=""
    if [ "$n" -ge 200000 ]; then
      rm -rf "$WORK/store"
      if rss_split "$DW" --db "$WORK/store" ingest "$file"; then
        anon=$(fmt_mib "$S_ANON") filepg=$(fmt_mib "$S_FILE") kanon=$S_ANON
      else
        fail "ingest r$n.$fmt (sampled run) failed"
      fi
      rm -rf "$WORK/store"
    fi
    read -r imed imin imax <<<"$(stats "${iw[@]}")"
    read -r _ _ irss <<<"$(stats "${ir[@]}")" # the worst peak of all repetitions
    read -r icpu _ _ <<<"$(stats "${ic[@]}")"
    ratio=$(awk -v a="$imed" -v b="$fmed" 'BEGIN { printf "%.2f", a / b }')
    cratio=$(awk -v a="$icpu" -v b="$fcpu" 'BEGIN { if (b < 0.1) print "-"; else printf "%.2f", a / b }') # GNU time: 10 ms steps
    FCPU["$n $fmt"]=$fcpu
    rps=$(awk -v n="$n" -v s="$imed" 'BEGIN { printf "%.0f", n / s }')
    mbs=$(awk -v b="$xml_bytes" -v s="$imed" 'BEGIN { printf "%.0f", b / 1e6 / s }')
    # Targets: 200k gz CPU <= 1.5 x the floor's (wall is shown, but other load moves it);
    # peak RssAnon <= 32 MiB at 200k and 2M.
    verdict="-"
    if [ "$n" -ge 200000 ]; then
      verdict=$(awk -v c="$cratio" -v k="$kanon" -v gz="$([ "$fmt" = xml.gz ] && [ "$n" -eq 200000 ] && echo 1)" 'BEGIN {
        s = (k == "") ? "RssAnon not sampled" : ((k <= 32768) ? "RssAnon<=32MiB ok" : "RssAnon<=32MiB MISSED")
        if (gz == 1) s = s ", CPU ratio<=1.5 " ((c != "-" && c <= 1.5) ? "ok" : "MISSED")
        print s }')
    fi
    echo "| r$n.$fmt | $n | $((xml_bytes / 1000000)) | $(fmt_s "$imed") ($(fmt_s "$imin")-$(fmt_s "$imax")) | $(fmt_s "$fmed") ($(fmt_s "$fmin")-$(fmt_s "$fmax")) | $ratio | $(fmt_s "$icpu") | $(fmt_s "$fcpu") | $cratio | $rps | $mbs | $anon | $filepg | $(fmt_mib "$irss") | $(fmt_mib "$frss") | $verdict |" >>"$TABLE"
    echo "run-bench: r$n.$fmt done" >&2
  done
done

# Step: cost linear in records: CPU at 2M against 200k, per format, from the paired runs
# (target <= 11x; 10x is linear).  The floor's ratio of medians is beside it for reference
# (the floor is linear by construction: what it shows beyond 10x is drift between blocks).
LINEAR=$WORK/linear.md
for fmt in xml xml.gz; do
  [ -n "${LIN_PAIRS[$fmt]:-}" ] || continue
  [ -s "$LINEAR" ] || {
    echo "| input | ingest CPU 200k (paired runs) | ingest CPU 2M | ingest 2M/200k, median of the pairs (min-max) | floor 2M/200k (medians above) | target |"
    echo "|---|--:|--:|--:|--:|---|"
  } >"$LINEAR"
  read -r -a pairs <<<"${LIN_PAIRS[$fmt]}"
  big=() small=() ratios=()
  for ((i = 0; i + 1 < ${#pairs[@]}; i += 2)); do
    big+=("${pairs[i]}") small+=("${pairs[i + 1]}")
    ratios+=("$(awk -v b="${pairs[i]}" -v a="${pairs[i + 1]}" 'BEGIN { print (a > 0) ? b / a : 0 }')")
  done
  read -r lmed lmin lmax <<<"$(stats "${ratios[@]}")"
  read -r smed _ _ <<<"$(stats "${small[@]}")"
  read -r bmed _ _ <<<"$(stats "${big[@]}")"
  flin="-"
  if [ -n "${FCPU["$LIN_SMALL $fmt"]:-}" ] && [ -n "${FCPU["$LIN_BIG $fmt"]:-}" ]; then
    flin=$(awk -v a="${FCPU["$LIN_SMALL $fmt"]}" -v b="${FCPU["$LIN_BIG $fmt"]}" 'BEGIN { printf "%.2f", b / a }')
  fi
  ok=$(awk -v r="$lmed" 'BEGIN { print (r <= 11) ? "2M <= 11 x 200k ok" : "2M <= 11 x 200k MISSED" }')
  printf '| r*.%s | %s | %s | %.2f (%.2f-%.2f) | %s | %s |\n' "$fmt" "$(fmt_s "$smed")" "$(fmt_s "$bmed")" "$lmed" "$lmin" "$lmax" "$flin" "$ok" >>"$LINEAR"
done

# Step: part 1b, the write lock: report mail through the milter during the 2M ingest.
LOCK_MD=$WORK/lock.md
if [ "${BENCH_LOCK:-1}" != 0 ]; then
  lock_n=${BENCH_LOCK_RECORDS:-2000000}
  gen_input "$lock_n"
  part lock "$LOCK_MD" "$here/bench-lock.sh" "$IN/r$lock_n.xml.gz" "$IN/r$lock_n.totals" || true
  echo "run-bench: write lock done" >&2
fi

# Step: part 2, status on a year of reports.  The reports are cached; the
# store is rebuilt every run unless BENCH_STATUS_STORE keeps it (its format
# may have changed), which also gives the bulk-ingest rate.
STATUS_TABLE=$WORK/status.md

# fill_store STORE INPUT LABEL REPORTS RECORDS: ingest INPUT (a directory) into STORE, or
# reuse STORE when it was filled from INPUT before; adds a table row.  Returns 1 on failure.
fill_store() {
  local store=$1 input=$2 label=$3 reports=$4 records=$5 rate rrate size
  if [ "$(cat "$store/bench-complete" 2>/dev/null)" = "$(basename "$input")" ]; then
    echo "| $label | reused | - | - | store kept in $store (BENCH_STATUS_STORE) |" >>"$STATUS_TABLE"
    return 0
  fi
  if rm -rf "$store" && measure "$WORK/fill.out" "$WORK/fill.err" "$DW" --db "$store" ingest "$input"; then
    # Marks the store complete and names its input: a half-filled store
    # (interrupted run) or one from other parameters is never reused.
    basename "$input" >"$store/bench-complete"
    rate=$(awk -v n="$reports" -v s="$M_WALL" 'BEGIN { printf "%.3g", n / s }')
    rrate=$(awk -v n="$records" -v s="$M_WALL" 'BEGIN { printf "%.0f", n / s }')
    size=$(du -sm "$store" | cut -f1)
    echo "| $label | $(fmt_s "$M_WALL") | $(fmt_s "$M_CPU") | $(fmt_mib "$M_RSS") | $rate reports/s, $rrate records/s; store $size MiB |" >>"$STATUS_TABLE"
    return 0
  fi
  fail "$label: exit $?: $(head -c 300 "$WORK/fill.err")"
  echo "| $label | failed | - | - | $(head -c 200 "$WORK/fill.err" | tr '|\n' '  ') |" >>"$STATUS_TABLE"
  return 1
}

# check_store STORE REPORTS RECORDS MESSAGES: the store holds exactly what was generated.
check_store() {
  local why
  if ! why=$("$DW" --db "$1" reports --json | "$PYTHON" -c '
import json, sys
want = [int(x) for x in sys.argv[1:4]]
reps = json.load(sys.stdin)["reports"]
got = [len(reps), sum(r["records"] for r in reps), sum(r["messages"] for r in reps)]
if got != want: sys.exit(f"reports/records/messages got {got} want {want}")' "$2" "$3" "$4" 2>&1); then
    fail "$1: $why"
  fi
}

# status_row STORE LABEL MESSAGES RSS_KIB ARGS...: time `status --json ARGS` (or the command
# in STATUS_COMMAND: services; STATUS_FORMAT instead of --json: "" the tables, --csv) on STORE, with services named from the shipped catalog, and add
# a row; MESSAGES (if not empty) is the total it must show, RSS_KIB (if not empty) a peak
# RSS target.
status_row() {
  local store=$1 label=$2 want=$3 rss_target=$4 sw=() sr=() sc=() serr="" runs=$((REPS + 2)) rep
  local ndom smed smin smax srss scpu ok
  shift 4
  for ((rep = 1; rep <= runs; rep++)); do # the first two warm the page cache
    if measure "$WORK/status.json" "$WORK/status.err" "$DW" -c "$NAMING_CONF" --db "$store" "${STATUS_COMMAND:-status}" ${STATUS_FORMAT---json} "$@"; then
      ((rep > 2)) && sw+=("$M_WALL") sr+=("$M_RSS") sc+=("$M_CPU")
      # Slow (seconds): one warm-up and two measured runs are enough.
      if ((rep == 1)) && awk -v s="$M_WALL" 'BEGIN { exit !(s > 5) }'; then runs=4; fi
    else
      serr="exit $?: $(head -c 300 "$WORK/status.err")"
      break
    fi
  done
  if [ -n "$serr" ]; then
    fail "$label: $serr"
    echo "| $label | failed: ${serr//|//} | - | - | |" >>"$STATUS_TABLE"
    return
  fi
  if [ "${STATUS_FORMAT---json}" = --json ]; then
    ndom=$("$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1]))["domains"]; print(len(d), sum(x.get("messages", sum(s["messages"] for s in x.get("services", []))) for x in d))' "$WORK/status.json")
  else
    ndom="$(wc -l <"$WORK/status.json") lines of"
  fi
  read -r smed smin smax <<<"$(stats "${sw[@]}")"
  read -r _ _ srss <<<"$(stats "${sr[@]}")"
  read -r scpu _ _ <<<"$(stats "${sc[@]}")"
  ok=$(awk -v s="$smed" 'BEGIN { print (s < 0.2) ? "target <200 ms ok" : "target <200 ms MISSED" }')
  [ -z "${STATUS_COMMAND:-}" ] || ok="a listing: no target"
  if [ -n "$rss_target" ]; then
    ok="$ok; $(awk -v k="$srss" -v t="$rss_target" 'BEGIN { printf "RSS < %d MiB %s", t / 1024, (k < t) ? "ok" : "MISSED" }')"
  fi
  if [ -n "$want" ] && [ "${ndom#* }" != "$want" ]; then fail "$label: messages ${ndom#* } want $want"; fi
  if [ "${STATUS_FORMAT---json}" = --json ]; then
    echo "| $label | $(fmt_s "$smed") ($(fmt_s "$smin")-$(fmt_s "$smax")) | $(fmt_s "$scpu") | $(fmt_mib "$srss") | ${ndom% *} domains, ${ndom#* } messages; $ok |" >>"$STATUS_TABLE"
  else
    echo "| $label | $(fmt_s "$smed") ($(fmt_s "$smin")-$(fmt_s "$smax")) | $(fmt_s "$scpu") | $(fmt_mib "$srss") | ${ndom% *} text; $ok |" >>"$STATUS_TABLE"
  fi
}

# report_row STORE LABEL ARGS...: time `report --html PAGE ARGS` on STORE (target < 1 s) and add a
# row with the page's size.
report_row() {
  local store=$1 label=$2 walls=() rsss=() cpus=() rep med min max rss cpu ok
  shift 2
  for ((rep = 0; rep <= REPS; rep++)); do # the first warms the page cache
    if ! measure "$WORK/report.out" "$WORK/report.err" "$DW" -c "$NAMING_CONF" --db "$store" report --html "$WORK/report.html" "$@"; then
      fail "$label: exit $?: $(head -c 300 "$WORK/report.err")"
      echo "| $label | failed | - | - | $(head -c 200 "$WORK/report.err" | tr '|\n' '  ') |" >>"$STATUS_TABLE"
      return
    fi
    ((rep > 0)) && walls+=("$M_WALL") rsss+=("$M_RSS") cpus+=("$M_CPU")
  done
  read -r med min max <<<"$(stats "${walls[@]}")"
  read -r _ _ rss <<<"$(stats "${rsss[@]}")"
  read -r cpu _ _ <<<"$(stats "${cpus[@]}")"
  ok=$(awk -v s="$med" 'BEGIN { print (s < 1) ? "target <1 s ok" : "target <1 s MISSED" }')
  echo "| $label | $(fmt_s "$med") ($(fmt_s "$min")-$(fmt_s "$max")) | $(fmt_s "$cpu") | $(fmt_mib "$rss") | page $(($(wc -c <"$WORK/report.html") / 1024)) KiB; $ok |" >>"$STATUS_TABLE"
}

# Status names its services from the shipped catalog, as an installed one does.
NAMING_CONF=$WORK/naming.conf
printf 'ServiceCatalog %s\n' "$SRCDIR/contrib/services" >"$NAMING_CONF"

if [ "${BENCH_STATUS:-1}" != 0 ]; then
  YEAR=$CACHE/year-$fp-$STATUS_DOMAINS-$STATUS_DAYS-$STATUS_RECORDS
  if [ ! -s "$YEAR.totals" ]; then
    echo "run-bench: generating $((STATUS_DOMAINS * STATUS_DAYS)) reports into $YEAR" >&2
    rm -rf "$YEAR"
    "$GEN" --batch-dir "$YEAR" --domains "$STATUS_DOMAINS" --days "$STATUS_DAYS" --records "$STATUS_RECORDS" \
      --seed 2 --begin "$STATUS_BEGIN" --gzip --totals "$YEAR.totals.tmp" 2>/dev/null
    mv "$YEAR.totals.tmp" "$YEAR.totals"
  fi
  read -r y_reports y_records y_messages <<<"$("$PYTHON" -c 'import json,sys; t=json.load(open(sys.argv[1])); print(t["reports"], t["records"], t["messages"])' "$YEAR.totals")"
  {
    echo "| measurement | wall, median (min-max) | CPU (user+sys) | peak RSS | note |"
    echo "|---|--:|--:|--:|---|"
  } >"$STATUS_TABLE"
  STORE=${BENCH_STATUS_STORE:-$WORK/year-store}
  if fill_store "$STORE" "$YEAR" "ingest DIR ($y_reports files .xml.gz, $y_records records)" "$y_reports" "$y_records"; then
    check_store "$STORE" "$y_reports" "$y_records" "$y_messages"
    # Status's window ends today: today is pinned (DMARCWATCH_NOW, a test hook) to the last
    # day of the data, so that the default (30 days) and 90-day windows cover a month and a
    # quarter of it.  Every query, text or JSON, overview or one domain's page, has the
    # 200 ms target.
    export DMARCWATCH_NOW=$((STATUS_BEGIN + (STATUS_DAYS - 1) * 86400 + 43200))
    one=$(printf 'd%03d.example.net' $((STATUS_DOMAINS / 2)))
    status_row "$STORE" "status --json" "" ""
    STATUS_FORMAT="" status_row "$STORE" "status (the table)" "" ""
    status_row "$STORE" "status --json --since 90d" "" "" --since 90d
    status_row "$STORE" "status --json --since all" "$y_messages" "" --since all
    STATUS_FORMAT="" status_row "$STORE" "status --since all (the table)" "" "" --since all
    STATUS_FORMAT="" status_row "$STORE" "status $one (its page)" "" "" "$one"
    STATUS_FORMAT="" status_row "$STORE" "status $one --since all (its page)" "" "" "$one" --since all
    status_row "$STORE" "status $one --json --since all" "" "" "$one" --since all
    status_row "$STORE" "status $one --json --since all --policy reject --spf" "" "" "$one" --since all --policy reject --spf
    STATUS_FORMAT=--csv status_row "$STORE" "status --csv --since all (services of every domain)" "" "" --since all
    # Every source named with all its evidence (not a status target: a listing).
    STATUS_COMMAND=services status_row "$STORE" "services --json (every source named)" "" ""
    report_row "$STORE" "report --html d042.example.net --since all (a year, one domain)" d042.example.net --since all
    unset DMARCWATCH_NOW
  fi
  [ -n "${BENCH_STATUS_STORE:-}" ] || rm -rf "$STORE"

  # Memory: one domain with over a million distinct source IPs in the window (issue: peak RSS
  # under 64 MiB).  Six daily reports of 200,000 records: 1.2M facts, 1.03M distinct sources
  # (the generator draws a few from well-known sender ranges).
  BIG=$CACHE/big-$fp-6x200000
  if [ ! -s "$BIG.totals" ]; then
    echo "run-bench: generating 6 reports of 200000 records into $BIG" >&2
    rm -rf "$BIG" && mkdir -p "$BIG"
    for i in 0 1 2 3 4 5; do
      "$GEN" --records 200000 --seed $((100 + i)) --domain big.example --report-id "big-$i" \
        --begin $((STATUS_BEGIN + i * 86400)) --gzip --out "$BIG/r$i.xml.gz" --totals "$BIG/r$i.totals" 2>/dev/null
    done
    "$PYTHON" -c 'import json,sys; t=[json.load(open(f)) for f in sys.argv[1:]]; print(json.dumps({k: sum(x[k] for x in t) for k in ("reports", "records", "messages")}))' \
      "$BIG"/r?.totals >"$BIG.totals.tmp"
    rm -f "$BIG"/r?.totals
    mv "$BIG.totals.tmp" "$BIG.totals"
  fi
  read -r b_reports b_records b_messages <<<"$("$PYTHON" -c 'import json,sys; t=json.load(open(sys.argv[1])); print(t["reports"], t["records"], t["messages"])' "$BIG.totals")"
  BIGSTORE=${BENCH_STATUS_STORE:+$BENCH_STATUS_STORE-1m}
  BIGSTORE=${BIGSTORE:-$WORK/big-store}
  if fill_store "$BIGSTORE" "$BIG" "ingest DIR ($b_reports files .xml.gz, $b_records records, 1 domain)" "$b_reports" "$b_records"; then
    check_store "$BIGSTORE" "$b_reports" "$b_records" "$b_messages"
    status_row "$BIGSTORE" "status --json --since all (1.03M distinct source IPs)" "$b_messages" $((64 * 1024)) --since all
    status_row "$BIGSTORE" "status big.example --json --since all (its page: 1.03M sources)" "$b_messages" "" \
      big.example --since all
  fi
  # Naming alone, offline: a million sources with evidence drawn from the catalog (target < 2 s).
  if naming=$("$BUILDDIR/t/bench/bench-naming" "$SRCDIR/contrib/services" 1000000 2>&1); then
    nsec=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$naming")
    nok=$(awk -v s="$nsec" 'BEGIN { print (s < 2) ? "target <2 s ok" : "target <2 s MISSED" }')
    echo "| naming 1,000,000 sources offline (bench-naming, one core) | $(fmt_s "$nsec") | - | - | ${naming##*named_share=}; $nok |" >>"$STATUS_TABLE"
  else
    fail "bench-naming: $naming"
  fi
  # The daemon's alert pass over 10,000 new reports, offline (target < 10 s).
  if apass=$("$BUILDDIR/t/bench/bench-alert-pass" "$SRCDIR/contrib/services" "$WORK/alert-store" 10000 2>&1); then
    asec=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$apass")
    aok=$(awk -v s="$asec" 'BEGIN { print (s < 10) ? "target <10 s ok" : "target <10 s MISSED" }')
    echo "| dmarcwatchd alert pass, 10,000 new reports, 100 domains, every rule, offline (bench-alert-pass) | $(fmt_s "$asec") | - | - | $(sed -n 's/.*domains=\([0-9]*\) alerts=\([0-9]*\).*/domains \1, alerts \2/p' <<<"$apass"); $aok |" >>"$STATUS_TABLE"
  else
    fail "bench-alert-pass: $apass"
  fi
  # The same store as the whole daemon sees it: enrichment (offline) and the alert pass.
  if "$BUILDDIR/t/bench/bench-alert-pass" "$SRCDIR/contrib/services" "$WORK/alert-store" 10000 --fill-only >/dev/null 2>&1; then
    # Alerts to stderr, thrown away: the figure is the pass's, not a syslog's.
    printf 'Database %s\nServiceCatalog %s\nSyslogTarget stderr\n' "$WORK/alert-store" "$SRCDIR/contrib/services" >"$WORK/alert.conf"
    t0=$(date +%s.%N)
    if once=$("$BUILDDIR/collector/daemon/dmarcwatchd" -c "$WORK/alert.conf" -f --once 2>/dev/null); then
      dsec=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
      dok=$(awk -v s="$dsec" 'BEGIN { print (s < 10) ? "target <10 s ok" : "target <10 s MISSED" }')
      echo "| dmarcwatchd --once on it (offline enrichment of every new source, then the alert pass; whole process) | $(fmt_s "$dsec") | - | - | $(tail -n 1 <<<"$once"); $dok |" >>"$STATUS_TABLE"
    else
      fail "dmarcwatchd --once on the alert store"
    fi
  fi
  rm -rf "$WORK/alert-store" "$WORK/alert.conf"
  [ -n "${BENCH_STATUS_STORE:-}" ] || rm -rf "$BIGSTORE"
fi

# Step: part 3, Postfix and the milter (root only; its own script).
POSTFIX_MD=$WORK/postfix.md
if [ "${BENCH_POSTFIX:-1}" != 0 ]; then
  rc=0
  part postfix "$POSTFIX_MD" "$here/bench-postfix.sh" || rc=$?
  if [ $rc -eq 0 ]; then
    # The same with every message of a session over one SMTP connection (busy senders reuse
    # connections): the per-connection part of a milter's cost drops out.
    {
      echo
      echo "#### Several messages per SMTP connection (smtp-source -d)"
      echo
    } >>"$POSTFIX_MD"
    BENCH_SMTP_REUSE=1 BENCH_SMTP_REPORTS=0 BENCH_SMTP_ROUNDS=${BENCH_SMTP_REUSE_ROUNDS:-3} \
      bash "$here/bench-postfix.sh" >>"$POSTFIX_MD" 2>>"$WORK/postfix.err" || rc=$?
    [ $rc -eq 0 ] || fail "bench-postfix.sh (connection reuse) exit $rc: $(tail -n5 "$WORK/postfix.err")"
  fi
fi

# Step: part 4, Sendmail and the milter (root and the sendmail .debs; its own script).
SENDMAIL_MD=$WORK/sendmail.md
if [ "${BENCH_SENDMAIL:-1}" != 0 ]; then
  part sendmail "$SENDMAIL_MD" "$here/bench-sendmail.sh" || true
  echo "run-bench: Sendmail done" >&2
fi

# Step: part 5, the latency of an alert (root and syslog-ng; its own script).
ALERT_MD=$WORK/alert-latency.md
if [ "${BENCH_ALERT_LATENCY:-1}" != 0 ]; then
  part alert-latency "$ALERT_MD" "$here/bench-alert-latency.sh" || true
fi

# Step: part 6, the added time of the report authenticity checks (root; its own script).
AUTH_MD=$WORK/report-auth.md
if [ "${BENCH_REPORT_AUTH:-1}" != 0 ]; then
  part report-auth "$AUTH_MD" "$here/bench-report-auth.sh" || true
fi

# Step: the report.
REPORT=$WORK/report.md
{
  echo "## Latest \`make bench\` run"
  echo
  bench_machine
  echo "$("$DW" --version 2>/dev/null | head -n1) ($(git -C "$SRCDIR" describe --always --dirty 2>/dev/null || echo 'no git')), floor reader flags: ${BENCH_FLOOR_FLAGS:-as in the collector (NONET NOCDATA COMPACT NOBLANKS)}."
  echo
  echo "### Ingest of one generated report vs the floor"
  echo
  echo "Whole process, fresh store each time, ingest and floor runs interleaved; wall from date(1) around the command, CPU = user + system from GNU time (median; little affected by other load on the machine, unlike wall); $REPS repetitions$([ -z "${BENCH_REPS:-}" ] && echo " (3 at 2M)"), records/s and MB/s from the median wall and the uncompressed XML size. Totals checked against the generator's every time. RssAnon and RssFile: peaks of one extra run sampled every 20 ms from /proc (RssAnon = the process's own memory; RssFile = pages of the LMDB write map and of the binaries, page cache). Peak RSS (GNU time, the worst of all repetitions) counts both."
  echo "Targets: 200k gz ingest CPU <= 1.5 x the floor's; peak RssAnon <= 32 MiB at 200k and 2M; CPU at 2M <= 11 x CPU at 200k."
  echo
  cat "$TABLE"
  if [ -s "$LINEAR" ]; then
    echo
    echo "Cost linear in records: each 2M ingest above followed by a 200k ingest of the same format, CPU ratio per pair:"
    echo
    cat "$LINEAR"
  fi
  if [ -s "$LOCK_MD" ]; then
    echo
    echo "### Report mail through the milter while the CLI ingests a big report"
    echo
    cat "$LOCK_MD"
  fi
  if [ -s "$STATUS_TABLE" ]; then
    echo
    echo "### \`status\` on a year of reports ($STATUS_DOMAINS domains x $STATUS_DAYS days, ~$STATUS_RECORDS records each)"
    echo
    echo "Medians of $REPS runs after 2 warm-up runs (2 runs after 2 when one takes over 5 s). Status's window ends today; here today is pinned (DMARCWATCH_NOW) to the last day of the data, so the default window is its last 7 days and \`--since 90d\` its last 90. The last rows: one domain, 6 daily reports of 200,000 records (1.03M distinct source IPs). Targets: < 200 ms; peak RSS < 64 MiB with a million sources."
    echo
    cat "$STATUS_TABLE"
  fi
  if [ -s "$POSTFIX_MD" ]; then
    echo
    echo "### Through Postfix with the milter"
    echo
    cat "$POSTFIX_MD"
  fi
  if [ -s "$SENDMAIL_MD" ]; then
    echo
    echo "### Through Sendmail with the milter"
    echo
    cat "$SENDMAIL_MD"
  fi
  if [ -s "$ALERT_MD" ]; then
    echo
    echo "### Alert latency: report stored to alert in syslog-ng"
    echo
    cat "$ALERT_MD"
  fi
  if [ -s "$AUTH_MD" ]; then
    echo
    echo "### Report authenticity checks: added time per report mail"
    echo
    cat "$AUTH_MD"
  fi
} >"$REPORT"
cat "$REPORT"
if [ "$RESULTS" != "-" ]; then
  results_update "$RESULTS" "$REPORT" bench
  echo "run-bench: results kept in $RESULTS" >&2
fi
[ $failures -eq 0 ]
