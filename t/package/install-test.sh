#!/bin/bash
# install-test.sh - `make install` from the top directory (GNUmakefile forwards to build/ when the
# tree is configured there, as ./setup.sh does) into a DESTDIR: the programs, the man pages, the
# catalog and the two systemd units, made from contrib/systemd/*.service.in with the install's own
# paths, which `systemd-analyze verify` accepts (make check).
#
# From a distcheck tree (another VPATH build directory) the top directory forwards nowhere: then
# `make install` runs in the build directory and only the forwarding step is skipped.  Nothing is
# written outside the temp dir.  Prints TAP-ish lines and "N passed, M failed".
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
. "$SRCDIR/t/lib/common.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-install.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
ROOT=$TMP/root

# Step 1: where to run make install: the top directory when it forwards to this build (or is it).
src=$(cd "$SRCDIR" && pwd -P)
build=$(cd "$BUILDDIR" && pwd -P)
top=$BUILDDIR
if [ "$src" = "$build" ] || { [ ! -e "$src/Makefile" ] && [ "$(cd "$src/build" 2>/dev/null && pwd -P)" = "$build" ]; }; then
  top=$SRCDIR
else
  echo "# the top directory $SRCDIR does not forward to $BUILDDIR (a distcheck tree?): install from there"
fi
# The outer make's flags (make check's jobserver, -k) are not this install's.
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top" install DESTDIR="$ROOT" >"$TMP/install.log" 2>&1; then
  pass "make -C $top install DESTDIR=... succeeds"
else
  fail "make install"; tail -n 30 "$TMP/install.log" | sed 's/^/#   /'; summary; exit 1
fi

# Step 2: what it installed, under one prefix.
milter=$(find "$ROOT" -path '*/sbin/dmarcwatch-milter' -type f | head -n 1)
daemon=$(find "$ROOT" -path '*/sbin/dmarcwatchd' -type f | head -n 1)
cli=$(find "$ROOT" -path '*/bin/dmarcwatch' -not -path '*/sbin/*' -type f | head -n 1)
check "dmarcwatch-milter installed in sbin" test -x "$milter"
check "dmarcwatchd installed in sbin" test -x "$daemon"
check "dmarcwatch installed in bin" test -x "$cli"
check "dmarcwatch-milter --version runs" "$milter" --version
check "man pages installed" test -n "$(find "$ROOT" -name 'dmarcwatch-milter.8*' -o -name 'dmarcwatch.conf.5*' | head -n 1)"
check "service catalog installed" test -n "$(find "$ROOT" -path '*/share/dmarcwatch/services/*.services' | head -n 1)"
prefix=${milter%/sbin/dmarcwatch-milter}
unitdir=$prefix/lib/systemd/system
for unit in dmarcwatch-milter dmarcwatchd; do
  file=$unitdir/$unit.service
  check "$unit.service installed in PREFIX/lib/systemd/system" test -f "$file"
  check "$unit.service has no @placeholder@ left" not grep -q '@[a-z]*@' "$file"
done

# Step 3: the units name this install's programs and configuration, as the dmarcwatch user.
exec_line() { sed -n 's/^ExecStart=//p' "$unitdir/$1.service"; }
check "the milter unit runs the installed milter" test "$(exec_line dmarcwatch-milter | cut -d' ' -f1)" = "${milter#"$ROOT"}"
check "the daemon unit runs the installed daemon" test "$(exec_line dmarcwatchd | cut -d' ' -f1)" = "${daemon#"$ROOT"}"
reads_conf() { [[ "$(exec_line "$1")" == *" -c $prefix_conf" ]]; }
prefix_conf=$(sed -n 's/^# Set ReportAddress in \(.*\) first.*/\1/p' "$unitdir/dmarcwatch-milter.service")
check "the milter unit's comment and ExecStart name one dmarcwatch.conf ($prefix_conf)" reads_conf dmarcwatch-milter
check "the daemon unit reads the same dmarcwatch.conf" reads_conf dmarcwatchd
for unit in dmarcwatch-milter dmarcwatchd; do
  for key in User=dmarcwatch Group=dmarcwatch ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes \
    ProtectHome=yes StateDirectory=dmarcwatch; do
    check "$unit: $key" grep -qx "$key" "$unitdir/$unit.service"
  done
  check "$unit: ReadWritePaths= the store" grep -q '^ReadWritePaths=.*/lib/dmarcwatch' "$unitdir/$unit.service"
done

# Step 4: systemd-analyze verify on copies whose ExecStart= names the programs in DESTDIR (its
# --root= wants a whole system; the man pages are checked in t/package/deb-test.sh).
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$TMP/verify"
  for unit in dmarcwatch-milter dmarcwatchd; do
    sed "s|^ExecStart=/|ExecStart=$ROOT/|" "$unitdir/$unit.service" >"$TMP/verify/$unit.service"
  done
  if systemd-analyze verify --man=no "$TMP/verify/dmarcwatch-milter.service" "$TMP/verify/dmarcwatchd.service" \
      >"$TMP/verify.log" 2>&1 && ! grep -q . "$TMP/verify.log"; then
    pass "systemd-analyze verify: both units clean"
  else
    fail "systemd-analyze verify"; sed 's/^/#   /' "$TMP/verify.log"
  fi
else
  echo "# SKIP systemd-analyze verify: systemd-analyze not installed"
fi
summary
