#!/bin/bash
# bench-lock.sh - report mail through the milter while the CLI ingests a big report.
#
#   bench-lock.sh INPUT [TOTALS]
#
# Starts dmarcwatch-milter (-f, unix socket, fresh store, all under one mktemp dir removed at
# exit), sends BENCH_LOCK_IDLE report mails to it with the store idle, then starts
# `dmarcwatch --db STORE ingest --json INPUT` on the same store in the background and, while
# it runs, sends one report mail every BENCH_LOCK_INTERVAL seconds (t/bench/lock-latency.lua
# through miltertest; distinct report ids from t/lib/make-reports.py, 100 records each).
# Each mail is timed from connect to the milter's answer at end-of-message; the milter stores
# the report before it answers, and its log line must say outcome=stored.  The ingest must
# store INPUT (with TOTALS, the generator's totals, its records/messages must match).
# Target (the store-schema-2 issue): every mail during the ingest answered within 2 s - the
# ingest writes its rows in short transactions and never holds the write lock while parsing.
# Prints Markdown to stdout (idle and during-ingest rows: count, median, max), diagnostics
# to stderr.
#
# Environment: DMARCWATCH, DMARCWATCH_MILTER (binaries; an older build can be measured the
# same way), MILTERTEST, BENCH_LOCK_IDLE (5), BENCH_LOCK_INTERVAL (1 s), BENCH_LOCK_MAX (mails
# made for the ingest; 400), SRCDIR, BUILDDIR as for run-bench.sh.
# Exit 77 (skip) without miltertest, python3 or the binaries; 1 when a mail was not stored,
# the ingest failed or the store does not add up; 0 otherwise (a missed target is reported,
# not failed: this is a measurement).  Processes are stopped by PID from the EXIT trap.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench-lib.sh source-path=SCRIPTDIR
. "$here/bench-lib.sh"

SRCDIR=${SRCDIR:-$(cd "$here/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$PWD}
DW=${DMARCWATCH:-$BUILDDIR/collector/cli/dmarcwatch}
MILTER=${DMARCWATCH_MILTER:-$BUILDDIR/milter/dmarcwatch-milter}
MILTERTEST=${MILTERTEST:-$(command -v miltertest || true)}
IDLE=${BENCH_LOCK_IDLE:-5}
INTERVAL=${BENCH_LOCK_INTERVAL:-1}
MAX=${BENCH_LOCK_MAX:-400}
INPUT=${1:?usage: bench-lock.sh INPUT [TOTALS]}
TOTALS=${2:-}

skip() { echo "bench-lock: skipped: $*" >&2; exit 77; }
if [ -z "$MILTERTEST" ] || [ ! -x "$MILTERTEST" ]; then skip "miltertest not installed (apt-get install miltertest)"; fi
[ -x "$PYTHON" ] || skip "$PYTHON not installed"
[ -x "$MILTER" ] || skip "milter not built ($MILTER)"
[ -x "$DW" ] || skip "dmarcwatch not built ($DW)"
[ -r "$INPUT" ] || { echo "bench-lock: no $INPUT" >&2; exit 1; }

BASE=$(mktemp -d "${TMPDIR:-/tmp}/dmarcwatch-lockbench.XXXXXX")
MPID="" IPID="" TPID=""
cleanup() {
  stop_pid "$TPID"
  stop_pid "$IPID"
  stop_pid "$MPID"
  rm -rf "$BASE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Step: the mails (report ids lock-1 .. lock-N, so none is a duplicate) and the milter.
"$PYTHON" "$SRCDIR/t/lib/make-reports.py" "$BASE/mail" --count $((IDLE + MAX)) --prefix lock --records 100 >/dev/null
mkdir -p "$BASE/store" "$BASE/tmp"
cat >"$BASE/milter.conf" <<EOF
# dmarcwatch-milter, bench-lock instance
Socket unix:$BASE/milter.sock
ReportAddress rua@example.test
Database $BASE/store
TempDirectory $BASE/tmp
ReportAction keep
Resolver none
EOF
"$MILTER" -c "$BASE/milter.conf" -f >"$BASE/milter.log" 2>&1 &
MPID=$!
wait_file "$BASE/milter.sock" 10 || { echo "bench-lock: milter did not start:" >&2; tail -n 20 "$BASE/milter.log" >&2; exit 1; }

# send FIRST COUNT [WHILEFILE]: report-FIRST.eml .. into the milter, one every INTERVAL s
# (while WHILEFILE exists); "sample ..." lines to $BASE/samples.
send() {
  local args=(-D sock="unix:$BASE/milter.sock" -D lib="$SRCDIR/t/milter/lib.lua" -D data="$BASE/mail"
    -D first="$1" -D count="$2" -D interval="$INTERVAL")
  [ -z "${3:-}" ] || args+=(-D whilefile="$3")
  "$MILTERTEST" "${args[@]}" -s "$here/lock-latency.lua" >"$BASE/mt-$1.out" 2>&1
}

# Step: idle store first, for comparison.
send 1 "$IDLE" || { echo "bench-lock: miltertest (idle) failed: $(tail -n 5 "$BASE/mt-1.out")" >&2; exit 1; }

# Step: the big ingest in the background, and report mails while it runs.  The subshell
# records when the ingest began and ended and removes the "running" file the Lua script polls.
touch "$BASE/running"
(
  date +%s%N >"$BASE/ingest.t0"
  rc=0
  "$DW" --db "$BASE/store" ingest --json "$INPUT" >"$BASE/ingest.json" 2>"$BASE/ingest.err" || rc=$?
  date +%s%N >"$BASE/ingest.t1"
  echo "$rc" >"$BASE/ingest.rc"
  rm -f "$BASE/running"
) &
IPID=$!
wait_file "$BASE/ingest.t0" 10
mt_rc=0
send $((IDLE + 1)) "$MAX" "$BASE/running" &
TPID=$!
wait "$IPID" || true
IPID=""
wait "$TPID" || mt_rc=$?
TPID=""
[ -e "$BASE/running" ] && { echo "bench-lock: ingest still running?" >&2; exit 1; }
[ "$mt_rc" = 0 ] || echo "bench-lock: miltertest (during ingest) exit $mt_rc: $(tail -n 5 "$BASE/mt-$((IDLE + 1)).out")" >&2

# Step: check and sum up.  A mail counts as "during the ingest" when it was sent between the
# ingest's start and end; the milter's log must have outcome=stored for each mail.
failed=0
irc=$(cat "$BASE/ingest.rc")
iwall=$(awk -v a="$(cat "$BASE/ingest.t0")" -v b="$(cat "$BASE/ingest.t1")" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
if [ "$irc" != 0 ]; then
  echo "bench-lock: ingest exit $irc: $(head -c 300 "$BASE/ingest.err") $(head -c 300 "$BASE/ingest.json")" >&2
  failed=1
fi
summary=$("$PYTHON" - "$BASE" "$IDLE" "${TOTALS:-}" <<'EOF'
import json, re, statistics, sys
base, idle, totals = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0, t1 = (int(open(f"{base}/ingest.{x}").read()) for x in ("t0", "t1"))
log = open(f"{base}/milter.log", errors="replace").read().splitlines()
stored_qids = set()
for line in log:
    m = re.search(r"\bqid=(QLOCK\d+)\b", line)
    if m and "outcome=stored" in line:
        stored_qids.add(m.group(1))
rows, problems = {"idle": [], "during": [], "after": []}, []
for name in (f"mt-1.out", f"mt-{idle + 1}.out"):
    for line in open(f"{base}/{name}"):
        if line.startswith("not ok"):
            problems.append(f"{name}: {line.strip()}")
        if not line.startswith("sample "):
            continue
        _, qid, start, lat, reply, header = line.split(maxsplit=5)
        start, lat = int(start), int(lat) / 1e9
        if not reply.startswith("ACCEPT@eom") or not header.startswith("stored;"):
            problems.append(f"{qid}: {reply} {header.strip()}")
        elif qid not in stored_qids:
            problems.append(f"{qid}: no outcome=stored log line")
        kind = "idle" if name == "mt-1.out" else ("during" if t0 <= start <= t1 else "after")
        rows[kind].append(lat)
# The ingest's own result.
got = json.loads(open(f"{base}/ingest.json").read() or "{}")
reps = got.get("reports", [])
if len(reps) != 1 or reps[0].get("status") != "stored":
    problems.append(f"ingest: want 1 stored report, got {reps!r:.200}")
elif totals:
    want = json.load(open(totals))
    if (reps[0].get("records"), reps[0].get("messages")) != (want["records"], want["messages"]):
        problems.append(f"ingest: records/messages {reps[0].get('records')}/{reps[0].get('messages')}"
                        f" want {want['records']}/{want['messages']}")
def fmt(v):
    if not v:
        return "0 - - 0"
    return f"{len(v)} {statistics.median(v):.3f} {max(v):.3f} {sum(1 for x in v if x > 2)}"
print(fmt(rows["idle"]), fmt(rows["during"]), len(rows["after"]), len(problems))
for p in problems[:10]:
    print(p, file=sys.stderr)
EOF
)
read -r n_idle med_idle max_idle _ n_dur med_dur max_dur slow_dur n_after n_problems <<<"$summary"
[ "$n_problems" = 0 ] || failed=1
# The store: the big report and every mail sent.
want_reports=$((n_idle + n_dur + n_after + 1))
got_reports=$("$DW" --db "$BASE/store" reports --json | "$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)["reports"]))') || got_reports="?"
if [ "$got_reports" != "$want_reports" ]; then
  echo "bench-lock: the store holds $got_reports reports, want $want_reports" >&2
  failed=1
fi
stop_pid "$MPID"
MPID=""

verdict=$(awk -v n="$n_dur" -v s="$slow_dur" 'BEGIN { print (n > 0 && s == 0) ? "every one <= 2 s: ok" : ((n == 0) ? "none sent: MISSED" : s " over 2 s: MISSED") }')
echo "Report mail (100 records, gzip, one milter connection each, one every ${INTERVAL} s) straight to dmarcwatch-milter over its unix socket by miltertest, timed from connect to the answer at end-of-message (the milter stores the report first; every one checked: ACCEPT, \`X-DMARCwatch: stored\`, log outcome=stored). Meanwhile \`dmarcwatch ingest\` of $(basename "$INPUT") into the same store: $(fmt_s "$iwall") wall, exit $irc. Target: every mail during the ingest answered within 2 s."
echo
echo "| store | mails | latency median | latency max | note |"
echo "|---|--:|--:|--:|---|"
echo "| idle (before the ingest) | $n_idle | $(fmt_s "$med_idle") | $(fmt_s "$max_idle") | |"
echo "| while \`ingest $(basename "$INPUT")\` runs | $n_dur | $(fmt_s "$med_dur") | $(fmt_s "$max_dur") | $verdict |"
[ "$failed" = 0 ]
