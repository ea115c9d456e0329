# shellcheck shell=bash
# syslog-ng-private.sh - a private syslog-ng on loopback running contrib/syslog-ng/dmarcwatch.conf
# (source it after common.sh; bash).  Used by t/e2e/syslog-ng-alerts.sh.
#
# The instance (shared/reference/e2e/REPORT.md, "Private syslog-ng"): its own config, which
# includes a copy of the contrib snippet with the paths and ports substituted; its own pid,
# persist and control files (without -p/-R/-c it would share /run/syslog-ng.pid and
# /var/lib/syslog-ng with a system instance); no system() source and no scl.conf, so it never
# touches /dev/log; run in the foreground (-F) as our child, so $! is its PID.
#
#   syslogng_binary               the binary: $SYSLOG_NG, else syslog-ng on PATH or /usr/sbin;
#                                 prints nothing and fails when none exists
#   syslogng_start DIR UDP TCP    write DIR/syslog-ng.conf and DIR/dmarcwatch.conf (the snippet
#                                 listening on DIR/alerts.sock, 127.0.0.1:UDP and 127.0.0.1:TCP,
#                                 writing DIR/alerts.jsonl), start it and wait until all three
#                                 listen; sets SYSLOGNG_PID (empty when it failed)
#   syslogng_stop                 stop the instance syslogng_start started, by its PID (SYSLOGNG_PID)
#
# Pitfalls handled: syslog-ng leaves its sockets and control socket behind at exit, so a
# readiness check could pass before a new instance listens: they are removed before the start.
# The pid file is removed at exit: the PID is the one recorded at start.  After exiting it may
# stay a zombie of PID 1 for a second or two: stop_pid tests with pid_alive, not kill -0.

syslogng_binary() {
  local candidate
  for candidate in "${SYSLOG_NG:-}" "$(command -v syslog-ng 2>/dev/null)" /usr/sbin/syslog-ng; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

# syslogng_listening UDP TCP: both ports bound on 127.0.0.1 (read from /proc/net/udp and tcp)
syslogng_listening() {
  local udp tcp
  udp=$(printf '0100007F:%04X' "$1")
  tcp=$(printf '0100007F:%04X' "$2")
  grep -q " $udp 00000000:0000 07 " /proc/net/udp && grep -q " $tcp 00000000:0000 0A " /proc/net/tcp
}

syslogng_start() {
  local dir=$1 udp=$2 tcp=$3 binary i
  SYSLOGNG_PID=
  binary=$(syslogng_binary) || return 1
  # Step 1: the snippet as shipped, with our paths and ports.
  # (group dmarcwatch exists where the package is installed; here root's group stands in)
  sed -e "s|/run/dmarcwatch-alerts.sock|$dir/alerts.sock|" -e 's|group("dmarcwatch")|group("root")|' \
      -e "s|/var/log/dmarcwatch/alerts.jsonl|$dir/alerts.jsonl|" \
      -e "s|port(5514) transport(\"udp\")|port($udp) transport(\"udp\")|" \
      -e "s|port(5514) transport(\"tcp\")|port($tcp) transport(\"tcp\")|" \
      "$SRCDIR/contrib/syslog-ng/dmarcwatch.conf" > "$dir/dmarcwatch.conf"
  # The substitutions must all have taken: else the test would listen where nobody sends.
  if ! grep -q "$dir/alerts.sock" "$dir/dmarcwatch.conf" || ! grep -q "port($udp)" "$dir/dmarcwatch.conf" ||
     ! grep -q "port($tcp)" "$dir/dmarcwatch.conf" || ! grep -q "$dir/alerts.jsonl" "$dir/dmarcwatch.conf"; then
    echo "# contrib/syslog-ng/dmarcwatch.conf no longer has the paths and ports syslog-ng-private.sh replaces" >&2
    return 1
  fi
  # Step 2: the main config: options for a test (write at once, no stats, no DNS), the snippet,
  # syslog-ng's own messages to a file of their own.
  cat > "$dir/syslog-ng.conf" <<EOF2
@version: 3.35
options { use-dns(no); dns-cache(no); flush-lines(0); stats-freq(0); };
@include "$dir/dmarcwatch.conf"
source s_internal { internal(); };
destination d_internal { file("$dir/internal.log"); };
log { source(s_internal); destination(d_internal); };
EOF2
  "$binary" --syntax-only -f "$dir/syslog-ng.conf" > "$dir/syntax.log" 2>&1 || {
    sed 's/^/# /' "$dir/syntax.log" >&2; return 1; }
  # Step 3: start it, the leftovers of an earlier instance removed first.
  rm -f "$dir/alerts.sock" "$dir/syslog-ng.ctl" "$dir/syslog-ng.pid"
  "$binary" -F --no-caps -f "$dir/syslog-ng.conf" -p "$dir/syslog-ng.pid" -R "$dir/syslog-ng.persist" \
    -c "$dir/syslog-ng.ctl" > "$dir/syslog-ng.stdout" 2> "$dir/syslog-ng.stderr" < /dev/null &
  SYSLOGNG_PID=$!
  # Step 4: ready when the pid file is written (after every source is bound), the unix
  # socket exists and both ports are bound.
  for ((i = 0; i < 200; i++)); do
    if [ -s "$dir/syslog-ng.pid" ] && [ -S "$dir/alerts.sock" ] && syslogng_listening "$udp" "$tcp"; then
      return 0
    fi
    pid_alive "$SYSLOGNG_PID" || break
    sleep 0.05
  done
  echo "# syslog-ng did not come up:" >&2
  sed 's/^/# /' "$dir/syslog-ng.stderr" "$dir/internal.log" >&2 2>/dev/null
  syslogng_stop
  return 1
}

syslogng_stop() {
  [ -n "${SYSLOGNG_PID:-}" ] || return 0
  stop_pid "$SYSLOGNG_PID" 5
  SYSLOGNG_PID=
}
