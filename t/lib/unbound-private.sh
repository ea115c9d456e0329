# shellcheck shell=bash
# unbound-private.sh - a private unbound on 127.0.0.1:PORT serving test zones from local-data
# lines (source it after common.sh; bash).  Used by t/e2e/unbound-enrich.sh and
# t/bench/bench-enrich.sh.
#
# unbound as a pure local-data server (shared/reference/e2e/REPORT.md): "." refused so nothing
# leaves the machine, no validator, no remote control, no chroot, no privilege drop, its own
# log file.  Started in the foreground, stopped by its PID (stop_pid).
#
#   unbound_binary              the server binary: $UNBOUND, else the copy `setup.sh check`
#                               unpacks under /var/cache/dmarcwatch-test/unbound, else
#                               /usr/sbin/unbound; prints nothing and fails when none exists
#   unbound_start DIR PORT FILE write DIR/unbound.conf with the lines of FILE (local-zone:,
#                               local-data:, local-data-ptr:), start it, wait until it answers;
#                               sets UNBOUND_PID
#   dns_query PORT NAME TYPE    rcode and answer count of one UDP question ("0 1")
#   enrich_workspace NAME       TMP = a fresh temp dir; at exit unbound is stopped and TMP removed
#   enrich_setup ZONES          unbound on a free port (PORT) serving ZONES, and TMP/dmarcwatch.conf
#                               (Database TMP/db, Resolver 127.0.0.1@PORT, the shipped catalog)

unbound_binary() {
  local candidate
  for candidate in "${UNBOUND:-}" /var/cache/dmarcwatch-test/unbound/tree/usr/sbin/unbound /usr/sbin/unbound; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

dns_query() {
  python3 - "$@" <<'PY'
import random, socket, struct, sys
port, name, qtype = int(sys.argv[1]), sys.argv[2], {"A": 1, "PTR": 12, "TXT": 16, "AAAA": 28}[sys.argv[3]]
qid = random.randrange(65536)
q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
q += struct.pack(">HH", qtype, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)
try:
    s.sendto(q, ("127.0.0.1", port)); r = s.recv(4096)
except OSError:
    sys.exit(1)
flags, ancount = struct.unpack(">H", r[2:4])[0], struct.unpack(">H", r[6:8])[0]
print(flags & 0xF, ancount)
PY
}

unbound_start() {
  local dir=$1 port=$2 data=$3 binary i
  binary=$(unbound_binary) || return 1
  {
    cat <<EOF2
server:
  interface: 127.0.0.1
  port: $port
  do-ip6: no
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$dir"
  pidfile: ""
  use-syslog: no
  logfile: "$dir/unbound.log"
  verbosity: 1
  num-threads: 1
  so-reuseport: no
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
  msg-cache-size: 64m
  rrset-cache-size: 128m
  local-zone: "." refuse
  local-zone: "ready.invalid." static
  local-data: 'ready.invalid. 300 IN TXT "ok"'
EOF2
    sed 's/^/  /' "$data"
    printf 'remote-control:\n  control-enable: no\n'
  } > "$dir/unbound.conf"
  "$binary" -d -c "$dir/unbound.conf" > "$dir/unbound.stderr" 2>&1 < /dev/null &
  UNBOUND_PID=$!
  for ((i = 0; i < 200; i++)); do
    if [ "$(dns_query "$port" ready.invalid TXT 2>/dev/null)" = "0 1" ]; then return 0; fi
    pid_alive "$UNBOUND_PID" || break
    sleep 0.05
  done
  echo "# unbound did not come up:" >&2
  sed 's/^/# /' "$dir/unbound.log" "$dir/unbound.stderr" >&2
  stop_pid "$UNBOUND_PID" 5
  UNBOUND_PID=
  return 1
}

enrich_workspace() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  UNBOUND_PID=
  trap 'stop_pid "$UNBOUND_PID" 5; rm -rf "$TMP"' EXIT
}

enrich_setup() {
  PORT=$(free_ports 1)
  unbound_start "$TMP" "$PORT" "$1" || return 1
  cat > "$TMP/dmarcwatch.conf" <<EOF2
Database $TMP/db
Resolver 127.0.0.1@$PORT
SyslogTarget stderr
ServiceCatalog $SRCDIR/contrib/services
EOF2
  mkdir "$TMP/db"
}
