# shellcheck shell=bash
# common.sh - helpers shared by the milter and e2e test scripts (source it; bash).
#
# Results: pass/fail print TAP-ish lines; summary prints "N passed, M failed"
# and returns non-zero when anything failed.  Processes: every helper acts on
# a PID the test started itself; nothing is ever killed by name.

# The directory of this file (devlog-sink.py is beside it).
COMMON_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

PASSED=0
FAILED=0
NTEST=0
pass() { NTEST=$((NTEST + 1)); PASSED=$((PASSED + 1)); echo "ok $NTEST - $*"; }
fail() { NTEST=$((NTEST + 1)); FAILED=$((FAILED + 1)); echo "not ok $NTEST - $*"; }
# check DESCRIPTION COMMAND...: pass when the command succeeds
check() { local d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }
summary() { echo "$PASSED passed, $FAILED failed"; [ "$FAILED" -eq 0 ]; }
# all COMMAND -- COMMAND...: every command succeeds (check "..." all [ a ] -- grep -q b f)
all() {
  local cmd=()
  while [ $# -gt 0 ]; do
    if [ "$1" = -- ]; then "${cmd[@]}" || return 1; cmd=(); else cmd+=("$1"); fi
    shift
  done
  "${cmd[@]}"
}
# not COMMAND...: the command fails (check "..." not grep -q bad f)
not() { ! "$@"; }
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

# udp_log_listener PORT FILE: in the background (LOG_LISTENER_PID), a syslog listener on UDP
# 127.0.0.1:PORT writing every datagram as one line "ARRIVAL_MS TEXT" into FILE (RFC 5424
# newlines flattened); FILE.ready appears once it listens.
udp_log_listener() {
  python3 - "$1" "$2" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
open(sys.argv[2] + ".ready", "w").close()
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        data = s.recv(65536)
        out.write("%d %s\n" % (time.time() * 1000, data.decode("utf-8", "replace").replace("\n", " ")))
PY
  LOG_LISTENER_PID=$!
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

# private_mount_ns WHY TOOL... -- SCRIPT ARGS...: for a root-only test: unless already there,
# skip (77) when not root (saying WHY), without a TOOL, or when unshare --mount is refused,
# else run SCRIPT again in a private mount namespace, whose mounts are nobody else's and go
# away with it.  What the script needs in there must be exported first.
private_mount_ns() {
  local why=$1
  shift
  [ "${DW_PRIVATE_MOUNT_NS:-}" = 1 ] && return 0
  [ "$(id -u)" = 0 ] || { echo "SKIP: $why"; exit 77; }
  while [ "$1" != -- ]; do
    command -v "$1" >/dev/null || { echo "SKIP: $1 not installed"; exit 77; }
    shift
  done
  shift
  unshare --mount --propagation private true 2>/dev/null || {
    echo "SKIP: unshare --mount is not permitted here"; exit 77; }
  DW_PRIVATE_MOUNT_NS=1 exec unshare --mount --propagation private -- bash "$@"
}

# need_milter: MILTER (default: the build's binary), else bail out; python3, else skip.
need_milter() {
  MILTER=${MILTER:-$BUILDDIR/milter/dmarcwatch-milter}
  [ -x "$MILTER" ] || { echo "Bail out! $MILTER not built"; exit 99; }
  command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }
}

# private_devlog DIR: (root, in a private mount namespace) devlog-sink.py on DIR/dev-log
# writing DIR/syslog, its PID in DEVLOG_PID, and /dev/log that socket for this namespace.
# shellcheck disable=SC2034 # DEVLOG_PID is for the caller to stop
private_devlog() {
  local dir=$1 keep n d
  python3 "$COMMON_LIB_DIR/devlog-sink.py" "$dir/dev-log" "$dir/syslog" &
  DEVLOG_PID=$!
  wait_file "$dir/dev-log" 10 || return 1
  if [ -e /dev/log ] || [ -L /dev/log ]; then
    mount --bind "$dir/dev-log" /dev/log
    return
  fi
  # No /dev/log to mount over, and creating one would create it in the host's /dev too: a
  # tmpfs on /dev (private to the namespace) with the usual nodes bound back.
  keep=$(mktemp -d "$dir/olddev.XXXXXX")
  mount --rbind /dev "$keep" && mount -t tmpfs -o mode=0755,size=64k devtmp /dev || return 1
  for n in null zero full random urandom tty; do
    [ -e "$keep/$n" ] || continue
    touch "/dev/$n" && mount --bind "$keep/$n" "/dev/$n"
  done
  for d in pts shm mqueue; do
    [ -d "$keep/$d" ] || continue
    mkdir -p "/dev/$d" && mount --rbind "$keep/$d" "/dev/$d"
  done
  ln -s /proc/self/fd /dev/fd
  ln -s fd/0 /dev/stdin
  ln -s fd/1 /dev/stdout
  ln -s fd/2 /dev/stderr
  ln -s "$dir/dev-log" /dev/log
  umount -l "$keep" && rmdir "$keep"
}
