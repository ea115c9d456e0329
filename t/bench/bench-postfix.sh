#!/bin/bash
# bench-postfix.sh - mail throughput through a private Postfix, with and without a milter.
#
# Starts, all on 127.0.0.1 and under one mktemp dir (removed at exit), three setups, each a
# Postfix instance relaying everything to its own smtp-sink (the next hop):
#   plain  no milter;
#   null   t/bench/null-milter: libmilter accepting every message at DATA, nothing else
#          (the floor of a libmilter milter; skipped when libmilter is not installed);
#   dw     milter/dmarcwatch-milter -f with its own config (ReportAddress, a fresh store,
#          ReportAction keep);
#   (alt   BENCH_ALT_MILTER=PROGRAM SOCKET, any other milter, for comparisons by hand.)
# Milters listen on a unix socket (BENCH_MILTER_SOCKET=inet for TCP); milter_default_action
# = tempfail, so a broken milter shows up as failures, not as speed.  Each part (Postfix
# instance, milter, smtp-source + smtp-sink) runs in a cgroup of its own (bench-lib.sh), so
# its CPU time is read exactly.  Then, in each of ROUNDS rounds:
#   1. non-report mail, one setup at a time, the order rotating: smtp-source -s SESSIONS
#      -m COUNT -l SIZE (one connection per message, the worst case for a milter) ->
#      accepted msg/s (smtp-source wall), delivered msg/s (until the maillog shows every
#      status=sent), CPU per message;
#   2. the same load into all setups at once: CPU per message of each under the same
#      machine conditions, and the capacity ratio CPU(plain) / CPU(setup), paired by round:
#      on this shared virtual machine CPU speed drifts by 10-30 % within seconds, which
#      one-setup-at-a-time msg/s cannot tell from a real difference.
# Issue 4's target: dmarcwatch-milter >= 95 % of the throughput without a milter.
# Then report mail: distinct generated reports (gzip attachments, ~100 records each) to the
# rua address over parallel connections -> reports/s through the milter (each stored before
# the SMTP reply) and the milter's CPU per report, checked with `dmarcwatch reports --json`;
# the same mail through plain.
# Prints Markdown to stdout; diagnostics to stderr.
#
# Needs root (postfix -c DIR start, cgroups), postfix, smtp-source/smtp-sink (package
# postfix), /usr/bin/python3, the built milter.  Exit 77 (skip) when one is missing, 1 on a
# failure, 0 otherwise.  Every process started here is stopped by PID from the EXIT trap.
# Pitfalls followed from shared/reference/e2e/REPORT.md: back-dated main.cf (P1), no
# `postfix check` (P2), maillog_file + postlog (P5), SIGTERM master ourselves (P6), chroot n.
#
# Environment: BENCH_SMTP_COUNT (2000), BENCH_SMTP_SESSIONS (10), BENCH_SMTP_ROUNDS (5),
# BENCH_SMTP_SIZE (2048 bytes), BENCH_SMTP_REUSE (0; 1: every message of a session over one
# connection), BENCH_SMTP_REPORTS (300), BENCH_SMTP_REPORT_SESSIONS (4), BENCH_MILTER_SOCKET
# (unix), BENCH_ALT_MILTER, SRCDIR/BUILDDIR as for run-bench.sh, DMARCWATCH_MILTER,
# NULL_MILTER (binaries).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench-lib.sh source-path=SCRIPTDIR
. "$here/bench-lib.sh"
# shellcheck source=../lib/postfix-config.sh source-path=SCRIPTDIR
. "$here/../lib/postfix-config.sh"

BUILDDIR=${BUILDDIR:-$PWD}
GEN=$BUILDDIR/t/bench/generate-report
DW=${DMARCWATCH:-$BUILDDIR/collector/cli/dmarcwatch}
MILTER=${DMARCWATCH_MILTER:-$BUILDDIR/milter/dmarcwatch-milter}
NULL_MILTER=${NULL_MILTER:-$BUILDDIR/t/bench/null-milter}
COUNT=${BENCH_SMTP_COUNT:-2000}
SESSIONS=${BENCH_SMTP_SESSIONS:-10}
ROUNDS=${BENCH_SMTP_ROUNDS:-5}
REPORTS=${BENCH_SMTP_REPORTS:-300}
REPORT_SESSIONS=${BENCH_SMTP_REPORT_SESSIONS:-4}
SOCKET_KIND=${BENCH_MILTER_SOCKET:-unix}
SIZE=${BENCH_SMTP_SIZE:-2048}
# BENCH_SMTP_REUSE=1: each smtp-source session sends all its messages over one connection (-d).
REUSE=${BENCH_SMTP_REUSE:-0}
PATH=$PATH:/usr/sbin

skip() { echo "bench-postfix: skipped: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root for a private Postfix"
for tool in postfix postconf smtp-source smtp-sink; do
  command -v "$tool" >/dev/null || skip "$tool not installed (apt-get install postfix)"
done
[ -x "$PYTHON" ] || skip "$PYTHON not installed"
[ -x "$MILTER" ] || skip "milter not built ($MILTER)"
if [ ! -x "$GEN" ] || [ ! -x "$DW" ]; then skip "generate-report or dmarcwatch not built"; fi
case $SOCKET_KIND in unix | inet) ;; *) skip "BENCH_MILTER_SOCKET must be unix or inet" ;; esac

BASE=$(mktemp -d "${TMPDIR:-/tmp}/dmarcwatch-pfbench.XXXXXX")
chmod 755 "$BASE"
# The setups measured side by side: Postfix alone, with the null milter, with ours.
VARIANTS="plain null dw"
declare -A LABEL=([plain]="without milter" [null]="with null-milter (libmilter floor)" [dw]="with dmarcwatch-milter")
if [ ! -x "$NULL_MILTER" ]; then
  echo "bench-postfix: no $NULL_MILTER (libmilter-dev not installed?): the libmilter floor is left out" >&2
  VARIANTS="plain dw"
fi
# BENCH_ALT_MILTER=PROGRAM adds a fourth setup: any milter taking its socket as sole argument.
if [ -n "${BENCH_ALT_MILTER:-}" ]; then
  VARIANTS+=" alt"
  LABEL[alt]="with $(basename "$BENCH_ALT_MILTER")"
fi
declare -A SMTP_PORT SINK_PID MILTER_PID
cleanup() {
  local v
  for v in $VARIANTS; do
    if [ -s "$BASE/$v/queue/pid/master.pid" ]; then
      stop_pid "$(tr -d ' ' <"$BASE/$v/queue/pid/master.pid")"
    fi
    stop_pid "${MILTER_PID[$v]:-}"
    stop_pid "${SINK_PID[$v]:-}"
  done
  cg_cleanup
  rm -rf "$BASE"
}
trap cleanup EXIT
cg_init || echo "bench-postfix: no writable cgroup with CPU accounting: CPU columns left empty" >&2

read -r -a PORTS <<<"$(free_ports 12 | tr '\n' ' ')"
# pf_setup NAME PORT SINK_PORT MILTERS: write one private instance relaying to its sink.
pf_setup() {
  local name=$1 port=$2 sink_port=$3 milters=$4 dir=$BASE/$1
  mkdir -p "$dir/etc" "$dir/queue" "$dir/data"
  chmod 755 "$dir" "$dir/queue"
  chown postfix:postfix "$dir/data"
  chmod 700 "$dir/data"
  pf_main_cf_common "$dir/queue" "$dir/data" >"$dir/etc/main.cf"
  cat >>"$dir/etc/main.cf" <<EOF
syslog_name = pfbench-$name
maillog_file = $dir/maillog
maillog_file_prefixes = $BASE
myhostname = mx-$name.example.test
mydomain = example.test
relay_domains = example.test
local_transport = error:5.1.1 no local delivery in the bench
default_transport = smtp
relay_transport = smtp
relayhost = [127.0.0.1]:$sink_port
smtpd_milters = $milters
EOF
  cat >"$dir/etc/master.cf" <<EOF
127.0.0.1:$port inet n - n - - smtpd
relay     unix  -       -       n       -       -       smtp
EOF
  pf_master_cf_internal >>"$dir/etc/master.cf"
  pf_settle "$dir/etc" main.cf master.cf
}

# pf_start NAME PORT: start an instance (in cgroup NAME-mta) and wait for its SMTP port.
pf_start() {
  local dir=$BASE/$1
  if ! cg_exec "$1-mta" postfix -c "$dir/etc" start >"$dir/start.log" 2>&1; then
    # Errors before postlogd runs go to syslog only; script(1) makes them visible.
    script -qec "postfix -c '$dir/etc' start" /dev/null >&2 || true
    echo "bench-postfix: postfix $1 did not start" >&2
    return 1
  fi
  wait_tcp "$2" 10
}

# sent_since NAME OFFSET: deliveries logged after byte OFFSET of the instance's maillog.
# Reading only the new part keeps the poll's own CPU small and the same in every round.
sent_since() { tail -c +$(($2 + 1)) "$BASE/$1/maillog" 2>/dev/null | grep -c 'status=sent' || true; }
log_size() { stat -c %s "$BASE/$1/maillog" 2>/dev/null || echo 0; }

# Step: per variant a sink, a milter (but for plain) and a Postfix instance, each in its cgroup.
i=0
for v in $VARIANTS; do
  sink_port=${PORTS[i]} SMTP_PORT[$v]=${PORTS[i + 1]} milter_port=${PORTS[i + 2]}
  i=$((i + 3))
  for part in mta milter load; do cg_new "$v-$part"; done
  cg_spawn "$v-load" smtp-sink -u nobody "127.0.0.1:$sink_port" 256 >"$BASE/sink-$v.log" 2>&1
  SINK_PID[$v]=$CG_PID
  wait_tcp "$sink_port" 10
  if [ "$SOCKET_KIND" = unix ]; then
    sock=unix:$BASE/$v-milter.sock pf_sock=unix:$BASE/$v-milter.sock
  else
    sock=inet:$milter_port@127.0.0.1 pf_sock=inet:127.0.0.1:$milter_port
  fi
  case $v in
  plain) pf_sock="" ;;
  null | alt)
    prog=$NULL_MILTER
    [ "$v" = alt ] && prog=$BENCH_ALT_MILTER
    cg_spawn "$v-milter" "$prog" "$sock" >"$BASE/$v-milter.log" 2>&1
    MILTER_PID[$v]=$CG_PID
    ;;
  dw)
    cat >"$BASE/milter.conf" <<EOF
# dmarcwatch-milter, bench instance
Socket $sock
SocketMode 0666
ReportAddress dmarc@example.test
Database $BASE/store
ReportAction keep
Resolver none
EOF
    cg_spawn dw-milter "$MILTER" -c "$BASE/milter.conf" -f >"$BASE/milter.log" 2>&1
    MILTER_PID[$v]=$CG_PID
    ;;
  esac
  if [ -n "${MILTER_PID[$v]:-}" ]; then
    if [ "$SOCKET_KIND" = unix ]; then wait_file "$BASE/$v-milter.sock" 10; else wait_tcp "$milter_port" 10; fi || {
      echo "bench-postfix: $v milter did not start:" >&2
      tail -n 20 "$BASE"/*milter.log >&2
      exit 1
    }
  fi
  pf_setup "$v" "${SMTP_PORT[$v]}" "$sink_port" "$pf_sock"
  pf_start "$v" "${SMTP_PORT[$v]}"
done

# cpu_of VARIANT: CPU microseconds so far of the variant's Postfix, milter, and
# smtp-source + smtp-sink, as "POSTFIX MILTER LOAD".
cpu_of() { echo "$(cg_usage "$1-mta") $(cg_usage "$1-milter") $(cg_usage "$1-load")"; }

# source_start VARIANT N: send N non-report messages into the variant in the background
# (smtp-source, one connection per message, in the variant's load cgroup).
declare -A S_PID S_BEFORE S_CPU0 S_T0 S_T1
source_start() {
  local v=$1 n=$2
  S_BEFORE[$v]=$(log_size "$v")
  S_CPU0[$v]=$(cpu_of "$v")
  S_T0[$v]=$(date +%s%N)
  local reuse=()
  [ "$REUSE" = 1 ] && reuse=(-d)
  cg_spawn "$v-load" smtp-source "${reuse[@]}" -s "$SESSIONS" -m "$n" -l "$SIZE" -M client.example.test -f sender@other.test \
    -t user@example.test "127.0.0.1:${SMTP_PORT[$v]}" 2>"$BASE/source-$v.err"
  S_PID[$v]=$CG_PID
}

# source_wait VARIANT: wait for smtp-source to end (all messages accepted).
source_wait() {
  if ! wait "${S_PID[$1]}"; then
    echo "bench-postfix: smtp-source into $1 failed: $(head -c 300 "$BASE/source-$1.err")" >&2
    return 1
  fi
  S_T1[$1]=$(date +%s%N)
}

# source_drain VARIANT N: wait for every message to be relayed; sets R_ACC and R_DEL (msg/s),
# R_MTA, R_MIL and R_ALL (CPU microseconds per message: Postfix and milter; the milter alone;
# all with smtp-source and smtp-sink).
source_drain() {
  local v=$1 n=$2 t2 i p0 m0 l0 p1 m1 l1
  for ((i = 0; i < 6000; i++)); do # up to 120 s for the queue to drain
    [ "$(sent_since "$v" "${S_BEFORE[$v]}")" -ge "$n" ] && break
    sleep 0.05
  done
  t2=$(date +%s%N)
  read -r p0 m0 l0 <<<"${S_CPU0[$v]}"
  read -r p1 m1 l1 <<<"$(cpu_of "$v")"
  if [ "$(sent_since "$v" "${S_BEFORE[$v]}")" -lt "$n" ]; then
    echo "bench-postfix: $v delivered $(sent_since "$v" "${S_BEFORE[$v]}") of $n" >&2
    grep -v 'status=sent' "$BASE/$v/maillog" | tail -n 5 >&2
    return 1
  fi
  R_ACC=$(awk -v n="$n" -v ns=$((S_T1[$v] - S_T0[$v])) 'BEGIN { printf "%.1f", n / (ns / 1e9) }')
  R_DEL=$(awk -v n="$n" -v ns=$((t2 - S_T0[$v])) 'BEGIN { printf "%.1f", n / (ns / 1e9) }')
  R_MTA=$(awk -v n="$n" -v us=$((p1 - p0 + m1 - m0)) 'BEGIN { printf "%.1f", us / n }')
  R_MIL=$(awk -v n="$n" -v us=$((m1 - m0)) 'BEGIN { printf "%.1f", us / n }')
  R_ALL=$(awk -v n="$n" -v us=$((p1 - p0 + m1 - m0 + l1 - l0)) 'BEGIN { printf "%.1f", us / n }')
}

# Step: warm up each (spawns smtpd/cleanup/smtp processes).  Then the rounds; each has two parts:
#   one setup at a time, the order rotating from round to round: msg/s (the issue's measure);
#   each milter setup side by side with plain, both loaded at once: CPU per message of the two
#   under the very same machine conditions.  On a shared virtual machine CPU speed drifts by
#   10-30 % within seconds (seen here), which one-at-a-time rounds cannot tell from a real
#   difference; two at once keep the two cores busy without overloading them.
for v in $VARIANTS; do source_start "$v" 100 && source_wait "$v" && source_drain "$v" 100; done
# C*[v]: v's CPU figures in the side-by-side runs; P*[v]: plain's in the runs beside v.
declare -A ACC DEL MTA MIL ALL CMTA CMIL CALL PMTA PALL
read -r -a order <<<"$VARIANTS"
for ((r = 1; r <= ROUNDS; r++)); do
  for ((k = 0; k < ${#order[@]}; k++)); do
    v=${order[(k + r) % ${#order[@]}]}
    source_start "$v" "$COUNT"
    source_wait "$v"
    source_drain "$v" "$COUNT"
    ACC[$v]+="$R_ACC " DEL[$v]+="$R_DEL " MTA[$v]+="$R_MTA " MIL[$v]+="$R_MIL " ALL[$v]+="$R_ALL "
    echo "bench-postfix: round $r $v alone: accepted $R_ACC msg/s, delivered $R_DEL msg/s, CPU $R_MTA us/msg (Postfix+milter; milter $R_MIL), $R_ALL us/msg (with source and sink)" >&2
  done
  for v in $VARIANTS; do
    [ "$v" != plain ] || continue
    source_start plain "$COUNT"
    source_start "$v" "$COUNT"
    source_wait plain
    source_wait "$v"
    source_drain plain "$COUNT"
    PMTA[$v]+="$R_MTA " PALL[$v]+="$R_ALL "
    source_drain "$v" "$COUNT"
    CMTA[$v]+="$R_MTA " CMIL[$v]+="$R_MIL " CALL[$v]+="$R_ALL "
    echo "bench-postfix: round $r $v beside plain: CPU $R_MTA us/msg (Postfix+milter; milter $R_MIL), $R_ALL us/msg (with source and sink); plain ${PMTA[$v]##* }" >&2
  done
done

# Step: report mail (unless BENCH_SMTP_REPORTS=0).  Distinct reports, so none is a duplicate.
nrep=0 nerr=0 stored=0
if ((REPORTS > 0)); then
"$GEN" --batch-dir "$BASE/reports" --domains 10 --days $(((REPORTS + 9) / 10)) --records 100 --seed 3 --gzip \
  --totals "$BASE/reports.totals" 2>/dev/null
send_reports() {
  "$PYTHON" - "$BASE/reports" "$1" "$REPORT_SESSIONS" "$REPORTS" <<'EOF'
import os, queue, smtplib, sys, threading, time
from email.message import EmailMessage
folder, port, sessions, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
messages = []
for name in sorted(os.listdir(folder))[:limit]:
    msg = EmailMessage()
    msg["From"] = "noreply-dmarc-support@google.com"
    msg["To"] = "dmarc@example.test"
    msg["Subject"] = f"Report domain: example.test Submitter: google.com Report-ID: {name}"
    msg.set_content("This is an aggregate report from google.com.")
    with open(os.path.join(folder, name), "rb") as f:
        msg.add_attachment(f.read(), maintype="application", subtype="gzip", filename="google.com!" + name)
    messages.append(msg.as_bytes())
work = queue.Queue()
for m in messages:
    work.put(m)
errors = []
def sender():
    while True:
        try:
            m = work.get_nowait()
        except queue.Empty:
            return
        try:
            with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.google.test") as s:
                s.sendmail("noreply-dmarc-support@google.com", ["dmarc@example.test"], m)
        except Exception as e:  # counted, reported below
            errors.append(str(e))
start = time.monotonic()
threads = [threading.Thread(target=sender) for _ in range(sessions)]
for t in threads: t.start()
for t in threads: t.join()
wall = time.monotonic() - start
print(f"{len(messages)} {len(errors)} {wall:.3f}")
if errors:
    print(errors[0], file=sys.stderr)
EOF
}
mcpu0=$(cg_usage dw-milter)
read -r nrep nerr rwall <<<"$(send_reports "${SMTP_PORT[dw]}")"
mcpu1=$(cg_usage dw-milter)
read -r _ perr pwall <<<"$(send_reports "${SMTP_PORT[plain]}")"
stored=$("$DW" --db "$BASE/store" reports --json | "$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)["reports"]))') || stored="?"
[ "$nerr" = 0 ] && [ "$stored" = "$nrep" ] || echo "bench-postfix: report mail: $nerr errors, $stored of $nrep stored" >&2
fi

# Step: the tables.
range() { read -r med lo hi <<<"$(stats "$@")"; printf '%.0f (%.0f-%.0f)' "$med" "$lo" "$hi"; }
# paired A B INVERT: per round, 100 * A/B (B/A when INVERT=1); median (min-max) of the rounds.
paired() {
  local -a a b ratios=()
  local i
  read -r -a a <<<"$1"
  read -r -a b <<<"$2"
  for ((i = 0; i < ${#a[@]}; i++)); do
    if [ "$3" = 1 ]; then ratios+=("$(awk -v x="${a[i]}" -v y="${b[i]}" 'BEGIN { print 100 * y / x }')")
    else ratios+=("$(awk -v x="${a[i]}" -v y="${b[i]}" 'BEGIN { print 100 * x / y }')"); fi
  done
  read -r med lo hi <<<"$(stats "${ratios[@]}")"
  printf '%.1f %% (%.1f-%.1f)' "$med" "$lo" "$hi"
}
conn_desc="one SMTP connection per message, the worst case for a milter"
[ "$REUSE" = 1 ] && conn_desc="-d: each of the $SESSIONS sessions sends its messages over one SMTP connection"
echo "Non-report mail: smtp-source -s $SESSIONS -m $COUNT -l $SIZE ($conn_desc) into each setup; Postfix relays to smtp-sink; milters on a $SOCKET_KIND socket; $ROUNDS rounds, medians (min-max). CPU: user + system time of the setup's own processes, read from their cgroups; capacity = CPU per message without a milter / with it, paired by round (what msg/s would be on a machine busy with mail alone)."
if [ -z "$CG_ROOT" ]; then
  echo "No writable cgroup with CPU accounting here: CPU columns are empty."
fi
echo
echo "One setup at a time (the order rotating from round to round):"
echo
echo "| setup | accepted msg/s | delivered msg/s | CPU/msg, Postfix + milter | of which the milter | CPU/msg with smtp-source and smtp-sink |"
echo "|---|--:|--:|--:|--:|--:|"
for v in $VARIANTS; do
  # shellcheck disable=SC2086 # the lists are space-separated numbers
  echo "| ${LABEL[$v]} | $(range ${ACC[$v]}) | $(range ${DEL[$v]}) | $(range ${MTA[$v]}) us | $(range ${MIL[$v]}) us | $(range ${ALL[$v]}) us |"
done
for v in $VARIANTS; do
  [ "$v" != plain ] || continue
  echo "| ${LABEL[$v]} / without | $(paired "${ACC[$v]}" "${ACC[plain]}" 0) | $(paired "${DEL[$v]}" "${DEL[plain]}" 0) | $(paired "${MTA[$v]}" "${MTA[plain]}" 1) capacity | | $(paired "${ALL[$v]}" "${ALL[plain]}" 1) capacity |"
done
echo
echo "Side by side: each milter setup and plain loaded at once with the same load, so each round compares the two under the same machine conditions:"
echo
echo "| setup | CPU/msg, Postfix + milter (plain beside it) | of which the milter | CPU/msg with smtp-source and smtp-sink (plain beside it) | capacity vs without (Postfix + milter) | capacity vs without (with source and sink) |"
echo "|---|--:|--:|--:|--:|--:|"
for v in $VARIANTS; do
  [ "$v" != plain ] || continue
  # shellcheck disable=SC2086 # the lists are space-separated numbers
  echo "| ${LABEL[$v]} | $(range ${CMTA[$v]}) us ($(range ${PMTA[$v]}) us) | $(range ${CMIL[$v]}) us | $(range ${CALL[$v]}) us ($(range ${PALL[$v]}) us) | $(paired "${CMTA[$v]}" "${PMTA[$v]}" 1) | $(paired "${CALL[$v]}" "${PALL[$v]}" 1) |"
done
echo
echo "Target (issue 4): with dmarcwatch-milter >= 95 % of the throughput without a milter."
echo
if ((REPORTS > 0)); then
echo "Report mail: $nrep distinct reports (~100 records, gzip attachment, one connection each, $REPORT_SESSIONS in parallel) to the rua address."
echo
echo "| instance | wall | reports/s | note |"
echo "|---|--:|--:|---|"
mcpu=""
[ -z "$CG_ROOT" ] || mcpu="; milter CPU $(awk -v n="$nrep" -v us=$((mcpu1 - mcpu0)) 'BEGIN { printf "%.2f", us / 1000 / n }') ms per report"
echo "| with dmarcwatch-milter | $(fmt_s "$rwall") | $(awk -v n="$nrep" -v s="$rwall" 'BEGIN { printf "%.0f", n / s }') | $stored of $nrep stored, $nerr SMTP errors$mcpu |"
echo "| without milter (reference) | $(fmt_s "$pwall") | $(awk -v n="$nrep" -v s="$pwall" 'BEGIN { printf "%.0f", n / s }') | $perr SMTP errors |"
fi
[ "$nerr" = 0 ] && [ "$stored" = "$nrep" ]
