#!/bin/bash
# deb-test.sh - the Debian package on this machine, as README "Installing" says (make check, root):
#   1. built with dpkg-buildpackage -us -uc -b from a copy of the source tree (make distdir: what
#      the tarball holds, git-independent, also from a read-only srcdir), nocheck, parallel=2;
#   2. lintian: no error; the maintainer scripts (dpkg-deb -e): the preinst stops both units on
#      upgrade, the postinst starts them (enabled ones: deb-systemd-invoke) only after its own
#      db upgrade, the prerm stops them on remove; the postinst puts no postfix in the group
#      and, run with stubs, refuses a dmarcwatch user without a dmarcwatch group by name;
#   3. apt install ../dmarcwatch_VERSION_ARCH.deb from the source tree, as the README says:
#      the dmarcwatch system user and group (postfix not in it), /var/lib/dmarcwatch
#      dmarcwatch:dmarcwatch 0750, /etc/dmarcwatch.conf a conffile agreeing with the units, the
#      units installed, not enabled, clean for systemd-analyze verify, the programs in
#      /usr/sbin and /usr/bin;
#   4. each unit's ExecStart run as the unit would (the dmarcwatch user, setpriv; PID 1 need not
#      be systemd): the milter refuses without ReportAddress; with one set in
#      /etc/dmarcwatch.conf both start (the milter's socket answers, the daemon's is there), and
#      stop by PID;
#   5. upgrade: a schema-1 store (t/data/lmdb-v1) in /var/lib/dmarcwatch, dpkg -i again: the
#      postinst upgrades it as the dmarcwatch user; the edited conffile is kept;
#   6. dpkg -r keeps the conffile, the store and the user; dpkg -P removes them, and leaves no
#      file named *dmarcwatch* that was not there before (piuparts' check, in small).
# One run at a time on a host: the whole test holds an flock on $LOCK (two root runs would
# install and purge the same package and user under each other); another run holding it
# longer than 30 minutes is a skip.
# Skips (77): not root; dpkg-buildpackage, debhelper, lintian or systemd-analyze missing; a dmarcwatch package, user, group, /etc/dmarcwatch.conf, /var/lib/dmarcwatch or
# /run/dmarcwatch already on the host (the test would touch an admin's installation); and in a
# distcheck tree (read-only srcdir): the package build (the whole project compiled once more,
# the longest step of this test) would run a second time in the same CI run for no new finding.
# The trap purges what it installed, even on failure, and removes the packages `apt install`
# newly pulled in (remove, not purge: one whose configuration an admin's earlier removal left
# keeps it).  DW_DEB=FILE tests a .deb built before
# (Step 1 then builds nothing).  Prints TAP-ish lines, the build time and
# "N passed, M failed".
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
. "$SRCDIR/t/lib/common.sh"

# Step 0: only where nothing of an admin's can be touched.
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (dpkg -i, a system user)"
for tool in dpkg-buildpackage dh lintian systemd-analyze setpriv python3 flock; do
  command -v "$tool" >/dev/null || skip "$tool not installed (./setup.sh check installs the test tools)"
done
# distcheck makes its tree read-only with chmod a-w, which root's -w does not see: read the mode.
(( (8#$(stat -c %a "$SRCDIR") & 8#200) != 0 )) ||
  skip "read-only source tree (make distcheck): the package build already ran in make check"
# The rest runs again under flock -o (the lock is flock's own, so no daemon started below
# inherits it).  The lock file is left in /run (a tmpfs): removing it would let a third run lock
# a new file while a second still waits on the old one.
LOCK=/run/dmarcwatch-deb-test.lock
if [ -z "${DW_DEB_TEST_LOCKED:-}" ]; then
  DW_DEB_TEST_LOCKED=1 flock -o -E 75 -w 1800 "$LOCK" bash "$0" "$@"
  rc=$?
  [ "$rc" = 75 ] && skip "another run of this test held $LOCK for 30 minutes"
  exit "$rc"
fi
if dpkg-query -W -f='${Status}' dmarcwatch 2>/dev/null | grep -qv '^unknown\|not-installed'; then
  skip "a dmarcwatch package is installed (or its conffiles remain) on this host"
fi
getent passwd dmarcwatch >/dev/null && skip "a dmarcwatch user exists on this host"
getent group dmarcwatch >/dev/null && skip "a dmarcwatch group exists on this host"
for path in /etc/dmarcwatch.conf /var/lib/dmarcwatch /run/dmarcwatch; do
  [ -e "$path" ] && skip "$path exists on this host"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-deb.XXXXXX")
chmod 755 "$TMP"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid" 5; done
  # Purge whatever this test installed (none of it existed before, Step 0 made sure).
  if dpkg-query -W dmarcwatch >/dev/null 2>&1; then
    dpkg -P dmarcwatch >>"$TMP/cleanup.log" 2>&1 || echo "# cleanup: dpkg -P dmarcwatch failed" >&2
  fi
  getent passwd dmarcwatch >/dev/null && userdel dmarcwatch
  getent group dmarcwatch >/dev/null && groupdel dmarcwatch
  # What apt install pulled in (dependencies not installed before): removed again.
  if [ -f "$TMP/pkgs-before" ]; then
    local new
    mapfile -t new < <(installed_packages | comm -13 "$TMP/pkgs-before" - | grep -vx dmarcwatch)
    if [ "${#new[@]}" -gt 0 ]; then
      echo "# cleanup: removing what apt install pulled in: ${new[*]}"
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y remove "${new[@]}" \
        >>"$TMP/cleanup.log" 2>&1 || echo "# cleanup: apt-get remove ${new[*]} failed" >&2
    fi
  fi
  rm -rf /etc/dmarcwatch.conf /var/lib/dmarcwatch /run/dmarcwatch "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# installed_packages: the packages dpkg has installed (or half so), sorted.
installed_packages() {
  dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package}\n' | awk '$1 !~ /^.[nc]/ {print $2}' | sort
}

# dmarcwatch_files: every file named *dmarcwatch* where a package could leave one.
dmarcwatch_files() {
  find /etc /var/lib /usr/sbin /usr/bin /usr/share /lib/systemd -name '*dmarcwatch*' 2>/dev/null |
    sort
}
dmarcwatch_files >"$TMP/files-before"

# Step 1: the package, built from the distributed files only (DW_DEB=FILE: test that .deb,
# built before from this tree, instead).
SRC=$TMP/src/dmarcwatch
mkdir -p "$TMP/src"
if [ -n "${DW_DEB:-}" ]; then
  cp "$DW_DEB" "$TMP/src/" || { echo "Bail out! DW_DEB=$DW_DEB"; exit 99; }
  echo "# testing $DW_DEB (not built here)"
else
  if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$BUILDDIR" distdir distdir="$SRC" >"$TMP/distdir.log" 2>&1; then
    fail "make distdir"; tail -n 20 "$TMP/distdir.log" | sed 's/^/#   /'; summary; exit 1
  fi
  started=$(date +%s)
  if (cd "$SRC" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL DEB_BUILD_OPTIONS="nocheck parallel=2" \
      dpkg-buildpackage -us -uc -b) >"$TMP/build.log" 2>&1; then
    pass "dpkg-buildpackage -us -uc -b builds from the distributed tree"
  else
    fail "dpkg-buildpackage"; tail -n 40 "$TMP/build.log" | sed 's/^/#   /'; summary; exit 1
  fi
  echo "# package build: $(($(date +%s) - started)) s"
fi
DEBS=("$TMP"/src/dmarcwatch_*.deb)
DEB=${DEBS[0]}
check "one .deb built ($(basename "$DEB"))" test "${#DEBS[@]}" = 1 -a -f "$DEB"
for want in ./usr/sbin/dmarcwatch-milter ./usr/sbin/dmarcwatchd ./usr/bin/dmarcwatch ./etc/dmarcwatch.conf \
  ./lib/systemd/system/dmarcwatch-milter.service ./lib/systemd/system/dmarcwatchd.service \
  ./usr/share/dmarcwatch/reporters.conf ./usr/share/man/man8/dmarcwatch-milter.8.gz; do
  check "the package holds $want" grep -qx "$want" <(dpkg-deb -c "$DEB" | awk '{print $6}')
done

# Step 2: lintian, every tag shown; errors fail.
lintian "$DEB" >"$TMP/lintian.log" 2>&1
rc=$?
check "lintian ran (status $rc: 0 clean, 1 tags found, 2 it failed)" test "$rc" -le 1
check "lintian: no error" not grep -q '^E:' "$TMP/lintian.log"
sed 's/^/#   lintian: /' "$TMP/lintian.log"

# The maintainer scripts as built: the units' start and stop around upgrades and removal.
CTRL=$TMP/control
dpkg-deb -e "$DEB" "$CTRL"
UNITLIST="'dmarcwatch-milter.service' 'dmarcwatchd.service'"
# line_of PATTERN FILE: the number of the first line matching the regex (empty: none)
line_of() { grep -n -m1 -e "$1" "$2" 2>/dev/null | cut -d: -f1; }
# follows A B FILE: a line matching B comes right after the first line matching A
follows() { local a; a=$(line_of "$1" "$3"); [ -n "$a" ] && sed -n "$((a + 1))p" "$3" | grep -q -e "$2"; }
# shellcheck disable=SC2016 # "$1" as the scripts spell it
check "preinst: on upgrade, both units stopped" \
  follows '"$1" = upgrade' "deb-systemd-invoke stop $UNITLIST" "$CTRL/preinst"
# shellcheck disable=SC2016
check "prerm: on remove, both units stopped" \
  follows '"$1" = remove' "deb-systemd-invoke stop $UNITLIST" "$CTRL/prerm"
upgrade_line=$(line_of 'dmarcwatch .* db upgrade' "$CTRL/postinst")
start_line=$(line_of "deb-systemd-invoke start $UNITLIST" "$CTRL/postinst")
check "postinst: both units started (line ${start_line:-none}) after its db upgrade (line ${upgrade_line:-none})" \
  test "${upgrade_line:-0}" -gt 0 -a "${start_line:-0}" -gt "${upgrade_line:-0}"
check "postinst: no restart or start of a unit elsewhere" \
  test "$(grep -c 'deb-systemd-invoke' "$CTRL/postinst")" = 1
check "postinst: postfix is not put in the dmarcwatch group" not grep -q 'adduser.*postfix' "$CTRL/postinst"
# A dmarcwatch user without a dmarcwatch group: the postinst, with every command that would
# touch the host stubbed, stops with a message naming the group, before any chown.
STUBS=$TMP/stubs
mkdir -p "$STUBS"
# shellcheck disable=SC2016 # $1 and $* are the stubs'
printf '#!/bin/sh\n[ "$1" = passwd ]\n' >"$STUBS/getent"
for cmd in adduser chown chmod dpkg-statoverride runuser deb-systemd-helper deb-systemd-invoke systemctl; do
  # shellcheck disable=SC2016
  printf '#!/bin/sh\necho "%s $*" >>"%s/ran"\n' "$cmd" "$STUBS" >"$STUBS/$cmd"
done
chmod +x "$STUBS"/*
PATH=$STUBS:$PATH sh "$CTRL/postinst" configure >"$TMP/nogroup.log" 2>&1
rc=$?
check "postinst, a user dmarcwatch but no group: fails (status $rc)" test "$rc" != 0
check "and names the missing group" grep -q 'no group dmarcwatch' "$TMP/nogroup.log"
check "before touching anything (ran: $(cat "$STUBS/ran" 2>/dev/null | tr '\n' ';'))" not test -e "$STUBS/ran"

# Step 3: README "Installing", word by word: from the source tree,
# apt install ../dmarcwatch_$(dpkg-parsechangelog -S Version)_$(dpkg --print-architecture).deb
# (DW_DEB: that file, by its name).
installed_packages >"$TMP/pkgs-before"
if [ -n "${DW_DEB:-}" ]; then
  install_dir=$TMP/src install_deb=./$(basename "$DEB")
else
  # shellcheck disable=SC2016 # expanded in the tree, as the README's line is
  install_dir=$SRC install_deb='../dmarcwatch_$(dpkg-parsechangelog -S Version)_$(dpkg --print-architecture).deb'
fi
if (cd "$install_dir" && eval "DEBIAN_FRONTEND=noninteractive apt -o DPkg::Lock::Timeout=300 -y install $install_deb") \
  >"$TMP/install.log" 2>&1; then
  pass "apt install $install_deb"
else
  fail "apt install"; tail -n 30 "$TMP/install.log" | sed 's/^/#   /'; summary; exit 1
fi
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd dmarcwatch)
check "a dmarcwatch system user (uid ${uid:-none} < 1000)" test -n "${uid:-}" -a "${uid:-1000}" -lt 1000
check "its home is the store, its shell nologin" test "$home:$shell" = /var/lib/dmarcwatch:/usr/sbin/nologin
check "a dmarcwatch group, the user's primary" test "$(id -gn dmarcwatch)" = dmarcwatch
if getent passwd postfix >/dev/null; then
  check "postfix is not in the dmarcwatch group (it reads the whole store)" \
    not grep -qw dmarcwatch <(id -Gn postfix)
fi
check "/var/lib/dmarcwatch dmarcwatch:dmarcwatch 750" test "$(stat -c %U:%G:%a /var/lib/dmarcwatch)" = dmarcwatch:dmarcwatch:750
check "/etc/dmarcwatch.conf is a conffile" grep -q '^ /etc/dmarcwatch.conf ' <(dpkg-query -W -f='${Conffiles}\n' dmarcwatch)
check "/etc/dmarcwatch.conf is the sample" cmp -s /etc/dmarcwatch.conf "$SRCDIR/conf/dmarcwatch.conf"
UNITS=/lib/systemd/system
for unit in dmarcwatch-milter dmarcwatchd; do
  check "$unit.service installed" test -f "$UNITS/$unit.service"
  check "$unit.service not enabled" not compgen -G "/etc/systemd/system/*.wants/$unit.service"
  check "$unit runs /usr/sbin/$unit -f -c /etc/dmarcwatch.conf" \
    grep -qx "ExecStart=/usr/sbin/$unit -f -c /etc/dmarcwatch.conf" "$UNITS/$unit.service"
  # The conffile and the unit agree: its Database is the unit's StateDirectory and
  # ReadWritePaths, and its UserID is unset or the unit's User=.
  check "$unit: ReadWritePaths= the conffile's Database" \
    grep -q "^ReadWritePaths=$(sed -n 's/^Database //p' /etc/dmarcwatch.conf)\( \|$\)" "$UNITS/$unit.service"
  check "$unit: User=dmarcwatch, the conffile's UserID unset or dmarcwatch" \
    bash -c "grep -qx User=dmarcwatch '$UNITS/$unit.service' && ! grep -v '^UserID dmarcwatch\(:dmarcwatch\)\?$' /etc/dmarcwatch.conf | grep -q '^UserID'"
done
if systemd-analyze verify "$UNITS/dmarcwatch-milter.service" "$UNITS/dmarcwatchd.service" >"$TMP/verify.log" 2>&1 &&
  ! grep -q . "$TMP/verify.log"; then
  pass "systemd-analyze verify: both installed units clean"
else
  fail "systemd-analyze verify"; sed 's/^/#   /' "$TMP/verify.log"
fi
check "dmarcwatch-milter --version" /usr/sbin/dmarcwatch-milter --version
check "dmarcwatchd --version" /usr/sbin/dmarcwatchd --version
check "dmarcwatch --version" /usr/bin/dmarcwatch --version

# Step 4: the units' ExecStart as the unit runs it: user and group dmarcwatch, no new privileges,
# UMask=0007, the RuntimeDirectory made as systemd would.
install -d -o dmarcwatch -g dmarcwatch -m 0750 /run/dmarcwatch
as_unit() {
  local unit=$1 log=$2
  # shellcheck disable=SC2046 # ExecStart= is words, as systemd splits it (no quotes in ours)
  (umask 0007 && exec setpriv --reuid=dmarcwatch --regid=dmarcwatch --init-groups --no-new-privs -- \
    $(sed -n 's/^ExecStart=//p' "$UNITS/$unit.service")) >"$log" 2>&1 &
}
as_unit dmarcwatch-milter "$TMP/milter-bare.log"
pid=$!
if wait_for 10 bash -c "! kill -0 $pid 2>/dev/null"; then
  wait "$pid"
  rc=$?
  check "the shipped configuration: the milter refuses (exit 2, not restarted by the unit)" test "$rc" = 2
  check "and says why: no ReportAddress" grep -q "no ReportAddress configured in /etc/dmarcwatch.conf" "$TMP/milter-bare.log"
else
  fail "the milter runs without a ReportAddress"; PIDS+=("$pid")
fi
# README: set ReportAddress (and here a unix Socket, so no port of the host is taken).
sed -i -e 's/^#ReportAddress .*/ReportAddress rua@example.test/' \
  -e 's|^Socket .*|Socket unix:/run/dmarcwatch/milter.sock|' /etc/dmarcwatch.conf
check "ReportAddress set in /etc/dmarcwatch.conf" grep -qx 'ReportAddress rua@example.test' /etc/dmarcwatch.conf
as_unit dmarcwatch-milter "$TMP/milter.log"
MILTER_PID=$!
PIDS+=("$MILTER_PID")
as_unit dmarcwatchd "$TMP/daemon.log"
DAEMON_PID=$!
PIDS+=("$DAEMON_PID")
answers() {
  python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])' "$1" 2>/dev/null
}
if wait_for 15 answers /run/dmarcwatch/milter.sock; then pass "the milter's socket answers"
else fail "the milter's socket"; sed 's/^/#   milter: /' "$TMP/milter.log"; fi
check "the milter's socket is dmarcwatch's, mode 660" test "$(stat -c %U:%a /run/dmarcwatch/milter.sock 2>/dev/null)" = dmarcwatch:660
if wait_for 15 test -S /var/lib/dmarcwatch/dmarcwatchd.sock; then pass "dmarcwatchd listens on the store's socket"
else fail "dmarcwatchd's socket"; sed 's/^/#   daemon: /' "$TMP/daemon.log"; fi
check "the milter runs" pid_alive "$MILTER_PID"
check "dmarcwatchd runs" pid_alive "$DAEMON_PID"
check "they run as dmarcwatch" test "$(ps -o user= -p "$MILTER_PID" -p "$DAEMON_PID" | sort -u)" = dmarcwatch
private_to_group() { [[ "$(stat -c %U:%a "$1" 2>/dev/null)" == dmarcwatch:[0-7][0-7]0 ]]; }
check "the store is dmarcwatch's, not the world's (UMask=0007)" private_to_group /var/lib/dmarcwatch/data.mdb
kill -TERM "$MILTER_PID" "$DAEMON_PID"
for pid in "$MILTER_PID" "$DAEMON_PID"; do
  if wait_for 15 bash -c "! kill -0 $pid 2>/dev/null"; then
    wait "$pid"; rc=$?
    check "PID $pid stops on SIGTERM with status 0" test "$rc" = 0
  else
    fail "PID $pid ignores SIGTERM"
  fi
done
PIDS=()

# Step 5: upgrade over a schema-1 store (a newer package and this one run the same postinst:
# dpkg -i of the installed version configures it as an upgrade from that version).
if command -v mdb_load >/dev/null; then
  rm -f /var/lib/dmarcwatch/*.mdb /var/lib/dmarcwatch/dmarcwatchd.sock
  mdb_load -f "$SRCDIR/t/data/lmdb-v1/store.dump" /var/lib/dmarcwatch 2>"$TMP/mdb_load.log" &&
    chown dmarcwatch:dmarcwatch /var/lib/dmarcwatch/*.mdb
  if dpkg -i "$DEB" >"$TMP/upgrade.log" 2>&1; then pass "dpkg -i over the installed package"
  else fail "dpkg -i (upgrade)"; sed 's/^/#   /' "$TMP/upgrade.log"; fi
  check "the postinst upgraded the schema-1 store" grep -q "upgraded from store schema 1 to" "$TMP/upgrade.log"
  check "now nothing is left to upgrade" grep -q "nothing to upgrade" \
    <(runuser -u dmarcwatch -- dmarcwatch db upgrade 2>&1)
  check "the store is still dmarcwatch's" test "$(stat -c %U /var/lib/dmarcwatch/data.mdb)" = dmarcwatch
  check "the upgraded store verifies" runuser -u dmarcwatch -- dmarcwatch db verify
  check "the edited conffile is kept" grep -qx 'ReportAddress rua@example.test' /etc/dmarcwatch.conf
else
  echo "# SKIP upgrade: mdb_load (lmdb-utils) not installed"
fi

# Step 6: remove keeps the admin's data; purge leaves nothing.
if dpkg -r dmarcwatch >"$TMP/remove.log" 2>&1; then pass "dpkg -r dmarcwatch"
else fail "dpkg -r"; sed 's/^/#   /' "$TMP/remove.log"; fi
check "removed: the programs are gone" not test -e /usr/sbin/dmarcwatch-milter
check "removed: the units are gone" not test -e "$UNITS/dmarcwatch-milter.service"
check "removed: the conffile stays" test -f /etc/dmarcwatch.conf
check "removed: the store stays" test -f /var/lib/dmarcwatch/data.mdb
check "removed: the user stays" getent passwd dmarcwatch
if dpkg -P dmarcwatch >"$TMP/purge.log" 2>&1; then pass "dpkg -P dmarcwatch"
else fail "dpkg -P"; sed 's/^/#   /' "$TMP/purge.log"; fi
check "purged: the conffile is gone" not test -e /etc/dmarcwatch.conf
check "purged: the store is gone" not test -e /var/lib/dmarcwatch
check "purged: the user is gone" not getent passwd dmarcwatch
check "purged: the group is gone" not getent group dmarcwatch
installed_status() { dpkg-query -W -f='${Status}' dmarcwatch 2>/dev/null | grep -qv 'not-installed'; }
check "purged: dpkg has dmarcwatch as not installed" not installed_status
rm -rf /run/dmarcwatch # made above as systemd's RuntimeDirectory= would (a tmpfs at boot)
dmarcwatch_files >"$TMP/files-after"
if cmp -s "$TMP/files-before" "$TMP/files-after"; then pass "purged: no file named *dmarcwatch* left behind"
else fail "purged: files left"; diff "$TMP/files-before" "$TMP/files-after" | sed 's/^/#   /'; fi
summary
