#!/bin/bash
# bench-sendmail.sh - plain mail through private Sendmail instances, with and without the milter.
#
# Three Sendmail 8.17 instances on 127.0.0.1 (t/lib/sendmail-private.sh: Debian's binaries
# unpacked by setup.sh, own .cf from sendmail-cf), each relaying to one smtp-sink:
#   alone  no milter;
#   tcp    dmarcwatch-milter over TCP (inet:PORT@127.0.0.1, contrib/sendmail.mc's line);
#   unix   a second dmarcwatch-milter over a unix socket, for reference.
# Non-report mail only (the milter accepts it at DATA).  Two measures, each as ratios to
# alone taken within a round, so that this shared machine's drift hits all setups alike:
#   1. latency: one message per SMTP connection, one at a time, the setups interleaved
#      message by message (alone, tcp, unix, alone, ...): connect to the reply to QUIT;
#      per round the median of each setup, the ratio to alone's; the median (min-max) of
#      the rounds' ratios;
#   2. throughput: all three loaded at once for SECONDS, each by SESSIONS client
#      processes sending one message per connection back to back: msg/s accepted per
#      setup under the same machine conditions, ratio alone / setup per round.
# Target (issue 10): Sendmail with the milter over TCP within 1.2 x Sendmail alone.  Before
# the quick ACK (milter/listener.hh acknowledgeNow) every message waited ~40 ms for a
# delayed ACK: set DMARCWATCH_MILTER to such a build to see it.
# Prints Markdown to stdout, diagnostics to stderr.  Runs as PID 1 of its own mount, UTS
# and pid namespaces (as t/e2e/sendmail-loopback.sh), so everything it starts dies with it.
#
# Environment: BENCH_SM_ROUNDS (5), BENCH_SM_MESSAGES (40 per setup and round, latency),
# BENCH_SM_SECONDS (5 per round, throughput; 0 skips it), BENCH_SM_SESSIONS (2 per setup),
# DMARCWATCH_MILTER, SRCDIR, BUILDDIR as for run-bench.sh.
# Exit 77 (skip) unless root with the sendmail .debs fetched by setup.sh, unshare, m4,
# smtp-sink and the milter; 1 when mail failed; 0 otherwise (a missed target is reported,
# not failed: this is a measurement).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench-lib.sh source-path=SCRIPTDIR
. "$here/bench-lib.sh"
# shellcheck source=../lib/sendmail-private.sh source-path=SCRIPTDIR
. "$here/../lib/sendmail-private.sh"

SRCDIR=${SRCDIR:-$(cd "$here/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$PWD}
MILTER=${DMARCWATCH_MILTER:-$BUILDDIR/milter/dmarcwatch-milter}
ROUNDS=${BENCH_SM_ROUNDS:-5}
MESSAGES=${BENCH_SM_MESSAGES:-40}
SECONDS_LOAD=${BENCH_SM_SECONDS:-5}
SESSIONS=${BENCH_SM_SESSIONS:-2}
PATH=$PATH:/usr/sbin

skip() { echo "bench-sendmail: skipped: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root for private Sendmail instances"
for tool in unshare m4 smtp-sink dpkg; do
  command -v "$tool" >/dev/null || skip "$tool not installed"
done
[ -x "$PYTHON" ] || skip "$PYTHON not installed"
[ -x "$MILTER" ] || skip "milter not built ($MILTER)"
sm_available || skip "no private Sendmail: $SM_WHY"
export SRCDIR BUILDDIR DMARCWATCH_MILTER=$MILTER
sm_enter_namespace "$0" "$@" || skip "$SM_WHY"

BASE=$(mktemp -d "${TMPDIR:-/tmp}/dmarcwatch-smbench.XXXXXX")
chmod 755 "$BASE"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid" 5; done
  stop_pid "${SM_LOG_PID:-}" 5
  cg_cleanup
  rm -rf "$BASE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Step: the private host, the sink, two milters, three Sendmails.  Sendmail logs little
# (LogLevel 4): the syslog stand-in shares the cores.
SM_LOG_LEVEL=4
sm_private_host "$BASE" || { echo "bench-sendmail: private host set-up failed" >&2; exit 1; }
sm_find_tree "$BASE" || { echo "bench-sendmail: $SM_WHY" >&2; exit 1; }
read -r -a PORTS <<<"$(free_ports 5 | tr '\n' ' ')"
SINK=${PORTS[0]} MPORT=${PORTS[1]}
declare -A SMPID MPID
declare -A PORT=([alone]=${PORTS[2]} [tcp]=${PORTS[3]} [unix]=${PORTS[4]})
declare -A LABEL=([alone]="Sendmail alone" [tcp]="with dmarcwatch-milter over TCP"
  [unix]="with dmarcwatch-milter over a unix socket")
smtp-sink -u nobody -h sink.example.test "127.0.0.1:$SINK" 256 >"$BASE/sink.log" 2>&1 &
PIDS+=("$!")
wait_tcp "$SINK" 10
for kind in tcp unix; do
  mkdir -p "$BASE/$kind-db"
  chown 65534:65534 "$BASE/$kind-db"
  socket="inet:$MPORT@127.0.0.1"
  [ "$kind" = unix ] && socket="unix:$BASE/$kind-db/milter.sock"
  cat >"$BASE/$kind-milter.conf" <<EOF
Socket $socket
ReportAddress dmarc@example.test
Database $BASE/$kind-db
ReportAction keep
UserID nobody
Resolver none
EOF
  "$MILTER" -c "$BASE/$kind-milter.conf" -f >"$BASE/$kind-milter.log" 2>&1 &
  PIDS+=("$!")
  MPID[$kind]=$!
done
wait_tcp "$MPORT" 10 && wait_file "$BASE/unix-db/milter.sock" 10 || {
  echo "bench-sendmail: a milter did not start:" >&2
  tail -n 5 "$BASE"/*-milter.log >&2
  exit 1
}
sm_instance alone "$BASE" "${PORT[alone]}" "$SINK"
sm_instance tcp "$BASE" "${PORT[tcp]}" "$SINK" "inet:$MPORT@127.0.0.1"
sm_instance unix "$BASE" "${PORT[unix]}" "$SINK" "local:$BASE/unix-db/milter.sock"
for v in alone tcp unix; do
  sm_start "$v" "$BASE" "${PORT[$v]}" || { echo "bench-sendmail: Sendmail $v did not start" >&2; tail -n 20 "$BASE/syslog" >&2; exit 1; }
  PIDS+=("$SM_PID")
  SMPID[$v]=$SM_PID
done
echo "bench-sendmail: Sendmail $SM_VERSION, milter $MILTER; ports alone ${PORT[alone]}, tcp ${PORT[tcp]}, unix ${PORT[unix]}" >&2
# Each Sendmail daemon (its children follow) and each milter in a cgroup of its own
# (bench-lib.sh), for the CPU each setup spends per message.
if cg_init; then
  for v in alone tcp unix; do
    cg_new "$v-mta" && echo "${SMPID[$v]}" >"$CG_ROOT/$v-mta/cgroup.procs"
    [ "$v" = alone ] || { cg_new "$v-milter" && echo "${MPID[$v]}" >"$CG_ROOT/$v-milter/cgroup.procs"; }
  done
else
  echo "bench-sendmail: no writable cgroup with CPU accounting: CPU columns left empty" >&2
fi

# Step: the measurements, in one Python client (smtplib: CRLF, one connection per message).
rc=0
"$PYTHON" - "$ROUNDS" "$MESSAGES" "$SECONDS_LOAD" "$SESSIONS" "$CG_ROOT" "alone=${PORT[alone]}" "tcp=${PORT[tcp]}" \
  "unix=${PORT[unix]}" >"$BASE/figures" <<'EOF' || rc=$?
import multiprocessing, os, smtplib, statistics, sys, time
rounds, messages, seconds, sessions = map(int, sys.argv[1:5])
cgroot = sys.argv[5]
setups = [a.split("=") for a in sys.argv[6:]]
names = [n for n, _ in setups]
port = {n: int(p) for n, p in setups}
body = (b"From: alice@sender.test\r\nTo: user@example.test\r\nSubject: bench\r\n\r\n" +
        b"A line of an ordinary message, not a report.\r\n" * 40)
failures = 0

def one(p):
    global failures
    t = time.perf_counter()
    try:
        with smtplib.SMTP("127.0.0.1", p, local_hostname="client.example.test", timeout=60) as s:
            s.sendmail("alice@sender.test", ["user@example.test"], body)
    except (smtplib.SMTPException, OSError) as e:
        failures += 1
        print("bench-sendmail: %s" % e, file=sys.stderr)
    return time.perf_counter() - t

def cpu(n, parts=("mta", "milter")):
    """CPU microseconds so far of setup n's Sendmail and milter (their cgroups), or 0."""
    total = 0
    for group in ("%s/%s-%s" % (cgroot, n, part) for part in parts):
        if not cgroot or not os.path.isdir(group):
            continue
        if os.path.exists(group + "/cpuacct.usage"):
            total += int(open(group + "/cpuacct.usage").read()) // 1000
        else:
            total += int(dict(l.split() for l in open(group + "/cpu.stat"))["usage_usec"])
    return total

def load(n, start, deadline, queue):
    """A client process: messages into setup n, one after the other, from start to deadline."""
    global failures
    failures = 0
    while time.monotonic() < start:
        time.sleep(0.005)
    k = 0
    while time.monotonic() < deadline:
        one(port[n])
        k += 1
    queue.put((n, k, failures))

for n in names:  # warm up: the first connections fork and fault in more
    for _ in range(5):
        one(port[n])
for r in range(rounds):
    lat = {n: [] for n in names}
    for i in range(messages):
        k = (i + r) % len(names)
        for n in names[k:] + names[:k]:
            lat[n].append(one(port[n]))
    print("latency", r, " ".join("%s=%.3f" % (n, 1000 * statistics.median(lat[n])) for n in names))
    if seconds > 0:
        # All setups at once, each from its own client processes, for the same window.
        start = time.monotonic() + 0.3  # every client process forked and waiting
        queue = multiprocessing.Queue()
        procs = [multiprocessing.Process(target=load, args=(n, start, start + seconds, queue))
                 for n in names for _ in range(sessions)]
        for pr in procs: pr.start()
        sent = {n: 0 for n in names}
        while time.monotonic() < start:
            time.sleep(0.005)
        cpu0 = {n: cpu(n) for n in names}
        mcpu0 = {n: cpu(n, ("milter",)) for n in names}
        for _ in procs:
            n, k, bad = queue.get()
            sent[n] += k
            failures += bad
        cpu1 = {n: cpu(n) for n in names}
        mcpu1 = {n: cpu(n, ("milter",)) for n in names}
        for pr in procs: pr.join()
        print("throughput", r, " ".join("%s=%.3f" % (n, sent[n] / seconds) for n in names))
        if cgroot:
            print("cpu", r, " ".join("%s=%.1f" % (n, (cpu1[n] - cpu0[n]) / max(1, sent[n])) for n in names))
            print("mcpu", r, " ".join("%s=%.1f" % (n, (mcpu1[n] - mcpu0[n]) / max(1, sent[n])) for n in names))
    print("bench-sendmail: round %d done" % (r + 1), file=sys.stderr)
print("failures", failures)
sys.exit(1 if failures else 0)
EOF

# Step: the table.  ratios KIND SETUP INVERT: per round SETUP/alone (alone/SETUP with INVERT);
# "median min max".
ratios() {
  awk -v kind="$1" -v setup="$2" -v inv="$3" '$1 == kind {
      for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      print (inv ? v["alone"] / v[setup] : v[setup] / v["alone"]) }' "$BASE/figures" | {
    mapfile -t r
    stats "${r[@]}"
  }
}
# fmt_range FORMAT: "median min max" on stdin as "median (min-max)" in FORMAT.
fmt_range() { awk -v f="$1" '{ printf f " (" f "-" f ")", $1, $2, $3 }'; }
# range FORMAT VALUE...: the values' median (min-max).
range() {
  local f=$1
  shift
  stats "$@" | fmt_range "$f"
}
values() { awk -v kind="$1" -v setup="$2" '$1 == kind { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == setup) print kv[2] } }' "$BASE/figures"; }
# col KIND SETUP FORMAT [UNIT]: the setup's figures of KIND over the rounds, median (min-max), or -.
col() {
  local -a v
  mapfile -t v < <(values "$1" "$2")
  if [ ${#v[@]} -eq 0 ]; then echo "-"; else echo "$(range "$3" "${v[@]}")${4:+ $4}"; fi
}
# rcol KIND SETUP INVERT: the ratio column (1 for alone itself), or - without figures.
rcol() {
  if [ "$2" = alone ]; then
    echo 1
  elif [ -z "$(values "$1" "$2")" ]; then
    echo "-"
  else
    ratios "$1" "$2" "$3" | fmt_range "%.2f"
  fi
}
echo "Plain (non-report) mail of about 2 KiB, one SMTP connection per message, from a Python smtplib client; the three Sendmail $SM_VERSION instances relay to smtp-sink (delivery runs in the background, after the reply). Rounds: $ROUNDS."
echo
echo "Latency: $MESSAGES messages per setup and round, one at a time, the setups interleaved message by message; connect to the reply to QUIT; the round's median per setup; ratio = the setup's median / alone's in the same round, median (min-max) of the rounds."
echo
echo "| setup | latency, median of the rounds (min-max) | ratio to Sendmail alone | target |"
echo "|---|--:|--:|---|"
for v in alone tcp unix; do
  target=""
  if [ "$v" = tcp ]; then
    read -r rmed _ _ <<<"$(ratios latency tcp 0)"
    target=$(awk -v r="$rmed" 'BEGIN { print (r <= 1.2) ? "<= 1.2 ok" : "<= 1.2 MISSED" }')
  fi
  echo "| ${LABEL[$v]} | $(col latency "$v" "%.1f" ms) | $(rcol latency "$v" 0) | $target |"
done
if ((SECONDS_LOAD > 0)); then
  echo
  echo "Throughput, side by side: the three setups loaded at once for $SECONDS_LOAD s per round, each by $SESSIONS client processes sending message after message (one connection each); accepted msg/s; ratio = alone's msg/s / the setup's in the same round (1.2 = 20 % slower). The two cores are shared by all three setups and their clients: the figures are each setup's share, the ratios what matters. CPU: user + system time of the setup's Sendmail (with its children) and milter, from their cgroups."
  echo
  echo "| setup | msg/s, median of the rounds (min-max) | alone / setup | CPU/msg, Sendmail + milter | of which the milter | setup / alone (CPU) |"
  echo "|---|--:|--:|--:|--:|--:|"
  for v in alone tcp unix; do
    echo "| ${LABEL[$v]} | $(col throughput "$v" "%.0f") | $(rcol throughput "$v" 1) | $(col cpu "$v" "%.0f" us) | $(col mcpu "$v" "%.0f" us) | $(rcol cpu "$v" 0) |"
  done
fi
echo
echo "Target (issue 10): Sendmail with dmarcwatch-milter over TCP within 1.2 x Sendmail alone (latency ratio)."
exit $rc
