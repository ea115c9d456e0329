#!/bin/bash
# bench-ab.sh - two dmarcwatch builds side by side on the same inputs (by hand; not in make bench).
#
#   bench-ab.sh DMARCWATCH_A DMARCWATCH_B FILE...
#
# For each FILE, ROUNDS rounds of `dmarcwatch --db NEW ingest --json FILE` with A and with B,
# the order alternating (A B, B A, ...) so that drift of this shared machine's CPU speed hits
# both alike; a fresh store every run.  Per run: CPU (user + system) and wall from
# bench-lib.sh's measure, then per round one more run of each sampled for peak RssAnon and
# RssFile (bench-lib.sh's rss_split; RssFile counts mapped store pages, page cache, not the
# process's own memory).  Every run must store FILE (one stored report; with FILE's totals
# next to it - rN.totals for rN.xml(.gz) from run-bench.sh's cache - the same records and
# messages).  Prints a Markdown table: medians (min-max), and B/A as the median of the
# per-round ratios.
#
# Environment: BENCH_AB_ROUNDS (3), BENCH_AB_SAMPLED (1: the RssAnon runs; 0 skips them).
# Exit 1 when a run failed, 0 otherwise.  Uses one mktemp dir, removed at exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench-lib.sh source-path=SCRIPTDIR
. "$here/bench-lib.sh"

[ $# -ge 3 ] || { echo "usage: bench-ab.sh DMARCWATCH_A DMARCWATCH_B FILE..." >&2; exit 2; }
A=$1 B=$2
shift 2
ROUNDS=${BENCH_AB_ROUNDS:-3}
SAMPLED=${BENCH_AB_SAMPLED:-1}
bench_require "$BENCH_TIME" "$PYTHON"
for prog in "$A" "$B"; do [ -x "$prog" ] || { echo "bench-ab: $prog is not a program" >&2; exit 1; }; done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dmarcwatch-ab.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
failures=0

# check FILE JSON: one stored report, with the totals when FILE's are there.
check() {
  local totals=${1%.gz}
  totals=${totals%.xml}.totals
  [ -s "$totals" ] || totals=""
  "$PYTHON" - "$2" "$totals" <<'EOF'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
reps = json.loads(lines[0]).get("reports", []) if len(lines) == 1 else []
if len(reps) != 1 or reps[0].get("status") != "stored":
    sys.exit(f"want 1 stored report, got {reps!r:.200}")
if sys.argv[2]:
    want = json.load(open(sys.argv[2]))
    got = (reps[0].get("records"), reps[0].get("messages"))
    if got != (want["records"], want["messages"]):
        sys.exit(f"records/messages {got} want {want['records']}/{want['messages']}")
EOF
}

# run WHICH FILE: one measured ingest; appends to CPU_x, WALL_x; 1 on failure.
declare -A CPU WALL ANON FILEPG
run() {
  local which=$1 file=$2 prog=$A why
  [ "$which" = B ] && prog=$B
  rm -rf "$WORK/store"
  if ! measure "$WORK/out.json" "$WORK/err" "$prog" --db "$WORK/store" ingest --json "$file" ||
    ! why=$(check "$file" "$WORK/out.json" 2>&1); then
    echo "bench-ab: $which on $file failed: ${why:-$(head -c 300 "$WORK/err")}" >&2
    failures=$((failures + 1))
    return 1
  fi
  CPU[$which]+="$M_CPU " WALL[$which]+="$M_WALL "
  if [ "$SAMPLED" = 1 ]; then
    rm -rf "$WORK/store"
    rss_split "$prog" --db "$WORK/store" ingest "$file" || true
    ANON[$which]+="$S_ANON " FILEPG[$which]+="$S_FILE "
  fi
  rm -rf "$WORK/store"
}

# ratios "A values" "B values": median (min-max) of B/A per round.
ratios() {
  local -a a b r=()
  local i
  read -r -a a <<<"$1"
  read -r -a b <<<"$2"
  for ((i = 0; i < ${#a[@]} && i < ${#b[@]}; i++)); do
    r+=("$(awk -v x="${a[i]}" -v y="${b[i]}" 'BEGIN { print (x > 0) ? y / x : 0 }')")
  done
  read -r med lo hi <<<"$(stats "${r[@]}")"
  printf '%.2f (%.2f-%.2f)' "$med" "$lo" "$hi"
}
# range_s / range_mib "values": median (min-max).
range_s() { read -r med lo hi <<<"$(stats "$@")"; echo "$(fmt_s "$med") ($(fmt_s "$lo")-$(fmt_s "$hi"))"; }
range_mib() { read -r med lo hi <<<"$(stats "$@")"; echo "$(fmt_mib "$med") ($(fmt_mib "$lo")-$(fmt_mib "$hi"))"; }

echo "A: $A ($("$A" --version 2>/dev/null | head -n1)); B: $B ($("$B" --version 2>/dev/null | head -n1))."
bench_machine
echo
echo "| input | CPU A | CPU B | CPU B/A | wall A | wall B | wall B/A | peak RssAnon A | peak RssAnon B | RssAnon B/A | peak RssFile A / B |"
echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
for file in "$@"; do
  CPU=() WALL=() ANON=() FILEPG=()
  for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then run A "$file" || true; run B "$file" || true
    else run B "$file" || true; run A "$file" || true; fi
    echo "bench-ab: $(basename "$file") round $r: CPU A ${CPU[A]:-} B ${CPU[B]:-}" >&2
  done
  # shellcheck disable=SC2086 # space-separated numbers
  {
    anon="- | - | -" fpg="-"
    if [ "$SAMPLED" = 1 ]; then
      anon="$(range_mib ${ANON[A]}) | $(range_mib ${ANON[B]}) | $(ratios "${ANON[A]}" "${ANON[B]}")"
      read -r fa _ _ <<<"$(stats ${FILEPG[A]})"
      read -r fb _ _ <<<"$(stats ${FILEPG[B]})"
      fpg="$(fmt_mib "$fa") / $(fmt_mib "$fb")"
    fi
    echo "| $(basename "$file") | $(range_s ${CPU[A]}) | $(range_s ${CPU[B]}) | $(ratios "${CPU[A]}" "${CPU[B]}") | $(range_s ${WALL[A]}) | $(range_s ${WALL[B]}) | $(ratios "${WALL[A]}" "${WALL[B]}") | $anon | $fpg |"
  }
done
[ $failures -eq 0 ]
