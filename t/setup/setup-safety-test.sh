#!/bin/bash
# setup-safety-test.sh - ./setup.sh's install phase on pretend hosts (make check; issue 15).
#
# setup.sh runs for real (SETUP_INSTALL_ONLY=1: it stops after installing), with stubs first on
# PATH for apt-get, apt-cache, dpkg-query, debconf-set-selections, sudo, dpkg, dpkg-deb and
# systemctl that
# answer from a host description under the test's temp dir and record what was asked; the
# policy-rc.d it places is SETUP_POLICY_RC_D in a fake root there, the unpacked test programs
# SETUP_TEST_CACHE (complete already, so nothing is fetched).  Nothing is installed for real.
#   - build asks for the user's packages only (no MTA, syslog daemon or test tool);
#   - rsyslog installed: check leaves syslog-ng-core out, saying it would replace rsyslog, and
#     installs the other test tools;  a tool whose simulated install would remove something
#     else (here: lintian removing a package) is left out the same way;
#   - exim4 installed: demo stops before installing anything, naming postfix and exim4, exit 1;
#     check leaves postfix out and goes on;
#   - the policy-rc.d guard is there while apt-get installs, gone afterwards, also when apt-get
#     fails and when setup.sh is killed mid-install; an admin's policy-rc.d is never touched;
#   - the units of the packages newly installed (postfix.service, syslog-ng.service; a template
#     never) are disabled with systemctl, those of a package installed before never;
#   - everything installed: apt-get is not run at all.
# Prints TAP-ish lines and "N passed, M failed".  Processes: the setup.sh runs it starts,
# stopped by their PIDs.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$SRCDIR/t/lib/common.sh"
SETUP=$SRCDIR/setup.sh
[ -r "$SETUP" ] || { echo "Bail out! $SETUP missing"; exit 99; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-setup-test.XXXXXX")
SPID=
trap '[ -n "$SPID" ] && kill -KILL -- "-$SPID" 2>/dev/null; rm -rf "$TMP"' EXIT
BIN=$TMP/bin
HOST=$TMP/host
GUARD=$TMP/root/usr/sbin/policy-rc.d
mkdir -p "$BIN" "$TMP/root/usr/sbin" "$TMP/cache/sendmail/tree" "$TMP/cache/unbound/tree"
touch "$TMP/cache/sendmail/tree/.complete" "$TMP/cache/unbound/tree/.complete"

# The host: $HOST/installed and $HOST/archive hold "package|provides|removes" lines (removes:
# what apt-get's simulated install prints as Remv).  $HOST/apt.log: every apt-get call, one a
# line; an install also records the policy-rc.d it found in $HOST/guard-seen.  $HOST/fail makes
# an install fail; $HOST/hang makes it wait (its PID in $HOST/hang.pid) until killed.
cat > "$BIN/apt-get" <<'STUB'
#!/bin/bash
echo "$*" >> "$HOST/apt.log"
sim= cmd= pkgs=()
while [ $# -gt 0 ]; do
  case $1 in
    -o) shift ;;
    -s) sim=1 ;;
    -*) ;;
    *) if [ -z "$cmd" ]; then cmd=$1; else pkgs+=("$1"); fi ;;
  esac
  shift
done
case $cmd in
  update) exit 0 ;;
  download) exit 1 ;;
  install) ;;
  *) echo "E: stub apt-get: $cmd" >&2; exit 100 ;;
esac
if [ -n "$sim" ]; then
  for p in "${pkgs[@]}"; do
    line=$(grep "^$p|" "$HOST/archive") || { echo "E: Unable to locate package $p"; exit 100; }
    echo "Inst $p (1.0 stub)"
    for r in $(cut -d'|' -f3 <<<"$line"); do
      grep -q "^$r|" "$HOST/installed" && echo "Remv $r [1.0]"
    done
  done
  exit 0
fi
if [ -e "$SETUP_POLICY_RC_D" ]; then cat "$SETUP_POLICY_RC_D" > "$HOST/guard-seen"; else echo none > "$HOST/guard-seen"; fi
if [ -e "$HOST/hang" ]; then echo $$ > "$HOST/hang.pid"; exec sleep 60; fi
[ -e "$HOST/fail" ] && { echo "E: stub apt-get: failing as told" >&2; exit 100; }
printf '%s\n' "${pkgs[@]}" >> "$HOST/installed-now"
for p in "${pkgs[@]}"; do grep "^$p|" "$HOST/archive" >> "$HOST/installed"; done
STUB
cat > "$BIN/apt-cache" <<'STUB'
#!/bin/bash
rc=0
for p in "$@"; do
  case $p in -* | show) continue ;; esac
  line=$(grep "^$p|" "$HOST/archive") || { echo "E: No packages found" >&2; rc=100; continue; }
  printf 'Package: %s\nProvides: %s\n\n' "$p" "$(cut -d'|' -f2 <<<"$line")"
done
exit $rc
STUB
# dpkg-query -W -f=FORMAT [PACKAGE...]: "NAME install ok installed" for each installed one
# named, else "ii |NAME|PROVIDES" for every installed package (the two formats setup.sh uses).
cat > "$BIN/dpkg-query" <<'STUB'
#!/bin/bash
pkgs=()
for a in "$@"; do case $a in -*) ;; *) pkgs+=("$a") ;; esac; done
if [ ${#pkgs[@]} -gt 0 ]; then
  rc=0
  for p in "${pkgs[@]}"; do
    if grep -q "^$p|" "$HOST/installed"; then echo "$p install ok installed"; else rc=1; fi
  done
  exit $rc
fi
while IFS='|' read -r name provides _; do printf 'ii |%s|%s\n' "$name" "$provides"; done < "$HOST/installed"
STUB
# shellcheck disable=SC2016 # the stubs expand them
printf '#!/bin/sh\ncat >> "$HOST/debconf"\n' > "$BIN/debconf-set-selections"
printf '#!/bin/sh\nexec "$@"\n' > "$BIN/sudo"
# shellcheck disable=SC2016
printf '#!/bin/sh\necho "$0 $*" >> "$HOST/apt.log"\nexit 1\n' > "$BIN/dpkg-deb"
# dpkg -L PACKAGE...: the files of $HOST/files ("PACKAGE PATH" lines) of those installed.
cat > "$BIN/dpkg" <<'STUB'
#!/bin/bash
[ "$1" = -L ] || { echo "$0 $*" >> "$HOST/apt.log"; exit 1; }
shift
for p in "$@"; do
  grep -q "^$p|" "$HOST/installed" && awk -v p="$p" '$1 == p { print $2 }' "$HOST/files"
done
exit 0
STUB
# systemctl: every call recorded in $HOST/systemctl.log.
# shellcheck disable=SC2016
printf '#!/bin/sh\necho "$*" >> "$HOST/systemctl.log"\n' > "$BIN/systemctl"
chmod 755 "$BIN"/*

# The archive: every package setup.sh may ask for (its lists, sourced), plus the MTAs and
# syslog daemons with their real Provides.
user=$(bash -c '. "$1"; echo "${user_packages[*]}"' _ "$SETUP")
tools=$(bash -c '. "$1"; echo "${demo_packages[*]} ${test_packages[*]}"' _ "$SETUP")
{ [ -n "$user" ] && [ -n "$tools" ]; } || { echo "Bail out! no package lists from $SETUP"; exit 99; }
archive() {
  for p in $user $tools chromium clang libclang-rt-dev; do
    case $p in
      postfix) echo "postfix|mail-transport-agent|exim4 exim4-daemon-light" ;;
      syslog-ng-core) echo "syslog-ng-core|system-log-daemon, linux-kernel-log-daemon|" ;;
      lintian) echo "lintian||${LINTIAN_REMOVES:-}" ;;
      *) echo "$p||" ;;
    esac
  done | sort -u
  echo "rsyslog|system-log-daemon, linux-kernel-log-daemon|"
  echo "exim4||"
  echo "exim4-daemon-light|mail-transport-agent, default-mta|"
  echo "old-tool||"
}

# host NAME PACKAGE...: a fresh host with PACKAGE... installed (from the archive).
host() {
  rm -rf "$HOST" "$GUARD"
  mkdir -p "$HOST"
  archive > "$HOST/archive"
  : > "$HOST/installed"
  : > "$HOST/apt.log"
  : > "$HOST/systemctl.log"
  # The files the packages with system units ship (dpkg -L), a binary among them.
  printf '%s\n' 'postfix /usr/sbin/postfix' 'postfix /lib/systemd/system/postfix.service' \
    'postfix /lib/systemd/system/postfix@.service' 'syslog-ng-core /lib/systemd/system/syslog-ng.service' \
    'syslog-ng-core /usr/sbin/syslog-ng' 'rsyslog /lib/systemd/system/rsyslog.service' > "$HOST/files"
  local p
  shift
  for p in "$@"; do grep "^$p|" "$HOST/archive" >> "$HOST/installed"; done
}
# run MODE: setup.sh's install phase; its status in RC, its output in $HOST/out.
run() {
  RC=0
  env PATH="$BIN:$PATH" HOST="$HOST" SETUP_INSTALL_ONLY=1 SETUP_POLICY_RC_D="$GUARD" \
    SETUP_TEST_CACHE="$TMP/cache" bash "$SETUP" "$1" > "$HOST/out" 2>&1 || RC=$?
  sed 's/^/#   /' "$HOST/out"
}
installed_now() { grep -qx -- "$1" "$HOST/installed-now" 2>/dev/null; }
none_installed_of() { local p; for p in "$@"; do installed_now "$p" && return 1; done; return 0; }
said() { grep -q -- "$1" "$HOST/out"; }
# no_install_call: apt-get was never asked to install (simulations only), and nothing was.
no_install_call() {
  [ ! -e "$HOST/installed-now" ] &&
    awk '{ s = i = 0; for (k = 1; k <= NF; k++) { if ($k == "-s") s = 1; if ($k == "install") i = 1 } if (i && !s) n++ }
         END { exit n > 0 }' "$HOST/apt.log"
}
guard_gone() { [ ! -e "$GUARD" ]; }
# disabled UNIT: setup.sh ran `systemctl disable --quiet UNIT`;  systemctl_calls: all it ran.
disabled() { grep -qx -- "disable --quiet $1" "$HOST/systemctl.log"; }
systemctl_calls() { tr '\n' ';' < "$HOST/systemctl.log"; }
guard_was_ours() { grep -qx 'exit 101' "$HOST/guard-seen"; }

echo "# build on a bare host: the user's packages only"
host bare
run build
check "build succeeds" test "$RC" = 0
check "build installs the compiler, the libraries and publicsuffix" \
  all installed_now build-essential -- installed_now libmilter-dev -- installed_now liblmdb-dev -- \
  installed_now libopendkim-dev -- installed_now libunbound-dev -- installed_now publicsuffix
check "build installs no MTA, syslog daemon or test tool" \
  none_installed_of postfix syslog-ng-core miltertest swaks chromium clang lintian debhelper
check "build downloads nothing" not grep -q download "$HOST/apt.log"
check "build: the guard was in place during the install, and is gone" all guard_was_ours -- guard_gone
check "build: no unit disabled (none of its packages ships one)" test ! -s "$HOST/systemctl.log"

echo "# check on a host with rsyslog"
# shellcheck disable=SC2086 # word lists
host rsyslog rsyslog $user
run check
check "check goes on (exit 0)" test "$RC" = 0
check "check says it leaves syslog-ng-core out because of rsyslog" \
  grep -q 'not installing syslog-ng-core: it would remove or replace the installed rsyslog' "$HOST/out"
check "check installs no syslog-ng-core" none_installed_of syslog-ng-core
check "check installs the other tools (postfix, miltertest, chromium, clang)" \
  all installed_now postfix -- installed_now miltertest -- installed_now chromium -- installed_now clang
check "rsyslog stays installed" grep -q '^rsyslog|' "$HOST/installed"
check "the package lists are fetched once" test "$(grep -cw update "$HOST/apt.log")" = 1
check "check: the guard is gone" guard_gone
check "check: postfix.service, newly installed, disabled ($(systemctl_calls))" disabled postfix.service
check "check: no template (postfix@.service), no unit of a package not installed, rsyslog's untouched" \
  test "$(grep -c . "$HOST/systemctl.log")" = 1

echo "# check on a host with postfix installed already"
# shellcheck disable=SC2086
host postfix postfix $user
run check
check "check installs syslog-ng-core and disables syslog-ng.service ($(systemctl_calls))" \
  all test "$RC" = 0 -- installed_now syslog-ng-core -- disabled syslog-ng.service
check "check never disables postfix.service, installed before" not grep -q postfix "$HOST/systemctl.log"

echo "# check when a tool's simulated install removes something else"
# shellcheck disable=SC2086
LINTIAN_REMOVES=old-tool host removes old-tool $user
run check
check "check leaves lintian out, naming old-tool, and goes on" \
  all test "$RC" = 0 -- said 'not installing lintian: it would remove or replace the installed old-tool' -- \
  none_installed_of lintian -- installed_now postfix

echo "# demo and check on a host with exim4"
host exim exim4 exim4-daemon-light
run demo
check "demo fails (exit 1)" test "$RC" = 1
check "demo names postfix and exim4" said 'NOT installing postfix: it would remove or replace the installed exim4 exim4-daemon-light'
check "demo installs nothing (no apt-get install, no debconf answer)" all no_install_call -- test ! -e "$HOST/debconf"
check "demo leaves no guard" guard_gone
# shellcheck disable=SC2086
host exim exim4 exim4-daemon-light $user
run check
check "check leaves postfix out, naming exim4, and goes on" \
  all test "$RC" = 0 -- said 'not installing postfix: it would remove or replace the installed exim4 exim4-daemon-light' -- \
  none_installed_of postfix -- installed_now syslog-ng-core

echo "# apt-get failing"
host bare
touch "$HOST/fail"
run build
check "build fails when apt-get does" test "$RC" != 0
check "the guard was placed and is removed" all guard_was_ours -- guard_gone
host bare
touch "$HOST/fail"
run demo
check "demo, apt-get failing: fails and disables nothing ($(systemctl_calls))" \
  all test "$RC" != 0 -- test ! -s "$HOST/systemctl.log"
host bare
touch "$HOST/fail"
printf '#!/bin/sh\n# the admin'"'"'s\nexit 0\n' > "$GUARD"
cp "$GUARD" "$TMP/admin-guard"
run build
check "an admin's policy-rc.d is the one apt-get saw, and it is kept" \
  all grep -q "the admin's" "$HOST/guard-seen" -- cmp -s "$GUARD" "$TMP/admin-guard"
rm -f "$HOST/fail"
run build
check "... also when apt-get succeeds" all test "$RC" = 0 -- cmp -s "$GUARD" "$TMP/admin-guard"

echo "# setup.sh killed while apt-get installs"
# Job control on: setup.sh runs in a process group of its own (a background job would ignore
# SIGINT otherwise), which the signal reaches as a terminal's ^C would: setup.sh and apt-get.
set -m
for sig in TERM INT; do
  host bare
  touch "$HOST/hang"
  env PATH="$BIN:$PATH" HOST="$HOST" SETUP_INSTALL_ONLY=1 SETUP_POLICY_RC_D="$GUARD" \
    SETUP_TEST_CACHE="$TMP/cache" bash "$SETUP" build > "$HOST/out" 2>&1 &
  SPID=$!
  wait_for 30 test -s "$HOST/hang.pid"
  check "$sig: the guard is in place while apt-get runs" test -e "$GUARD"
  kill -s "$sig" -- "-$SPID" 2>/dev/null
  RC=0; wait "$SPID" || RC=$?
  SPID=
  check "$sig: setup.sh ends by the signal (status $RC)" test "$RC" -gt 128
  check "$sig: the guard is gone" guard_gone
  check "$sig: apt-get was stopped too" wait_for 5 not pid_alive "$(cat "$HOST/hang.pid")"
done
set +m

echo "# everything installed already"
# shellcheck disable=SC2086
host all $user $tools chromium clang libclang-rt-dev
run check
check "check succeeds" test "$RC" = 0
check "check runs no apt-get at all" test ! -s "$HOST/apt.log"
run demo
check "demo runs no apt-get at all" all test "$RC" = 0 -- test ! -s "$HOST/apt.log"

summary
