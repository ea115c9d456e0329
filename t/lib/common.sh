# shellcheck shell=bash
# common.sh - helpers shared by the milter and e2e test scripts (source it; bash).
#
# Results: pass/fail print TAP-ish lines; summary prints "N passed, M failed"
# and returns non-zero when anything failed.  Processes: every helper acts on
# a PID the test started itself; nothing is ever killed by name.

PASSED=0
FAILED=0
NTEST=0
pass() { NTEST=$((NTEST + 1)); PASSED=$((PASSED + 1)); echo "ok $NTEST - $*"; }
fail() { NTEST=$((NTEST + 1)); FAILED=$((FAILED + 1)); echo "not ok $NTEST - $*"; }
# check DESCRIPTION COMMAND...: pass when the command succeeds
check() { local d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }
summary() { echo "$PASSED passed, $FAILED failed"; [ "$FAILED" -eq 0 ]; }
# fold_tap NAME FILE: count a sub-test's "ok N - text" / "not ok N - text" lines as ours
# (prefixed with NAME); other lines but its "# " comments are shown as comments.
fold_tap() {
  local name=$1 line
  while IFS= read -r line; do
    case $line in
      "ok "*) pass "$name: ${line#ok * - }" ;;
      "not ok "*) fail "$name: ${line#not ok * - }" ;;
      "# "*) ;;
      *) [ -n "$line" ] && echo "#   $name: $line" ;;
    esac
  done < "$2"
}

now_ms() { date +%s%3N; }

# free_ports N: N distinct free 127.0.0.1 TCP ports chosen by the kernel (racy by nature).
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
held, out = [], []
while len(out) < int(sys.argv[1]):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); held.append(s); out.append(s.getsockname()[1])
print("\n".join(map(str, out)))
PY
}

# wait_tcp PORT [SECONDS]: until something accepts on 127.0.0.1:PORT
wait_tcp() {
  local port=$1 t=${2:-10} i
  for ((i = 0; i < t * 50; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.02
  done
  return 1
}

# wait_file PATH [SECONDS]
wait_file() {
  local f=$1 t=${2:-10} i
  for ((i = 0; i < t * 50; i++)); do [ -e "$f" ] && return 0; sleep 0.02; done
  return 1
}

# wait_for SECONDS COMMAND...: until the command succeeds
wait_for() {
  local t=$1 i; shift
  for ((i = 0; i < t * 10; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}

# pid_alive PID: exists and is not a zombie (PID 1 may reap orphans late).
pid_alive() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "${st#Z}" = "$st" ]
}

# stop_pid PID [SECONDS]: SIGTERM, wait, SIGKILL after the timeout.
stop_pid() {
  local pid=$1 t=${2:-10} i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  for ((i = 0; i < t * 50; i++)); do
    pid_alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.02
  done
  echo "# stop_pid: $pid ignored SIGTERM for ${t}s, sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
  return 0
}

# need_milter: MILTER (default: the build's binary), else bail out; python3, else skip.
need_milter() {
  MILTER=${MILTER:-$BUILDDIR/milter/dmarcwatch-milter}
  [ -x "$MILTER" ] || { echo "Bail out! $MILTER not built"; exit 99; }
  command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }
}
