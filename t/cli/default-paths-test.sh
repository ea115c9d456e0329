#!/bin/bash
# default-paths-test.sh - one set of default paths everywhere (issue 15): the configuration
# file, the store and the run directory that configure chose (/etc/dmarcwatch.conf,
# /var/lib/dmarcwatch, /run/dmarcwatch unless --sysconfdir/--localstatedir/--runstatedir) are
# what the programs use (dmarcwatch --help and --dump-config, dmarcwatch-milter and dmarcwatchd
# --help and --dump-config), what the manual pages made from their .in templates say, and what
# the systemd units run; in a build with the default paths, also what the static texts say
# (README, conf/dmarcwatch.conf, contrib/*.service).  A failure names the file that disagrees.
# TAP-ish lines, "N passed, M failed".
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
DMARCWATCH=$BUILDDIR/collector/cli/dmarcwatch
MILTER=$BUILDDIR/milter/dmarcwatch-milter
DAEMON=$BUILDDIR/collector/daemon/dmarcwatchd
. "$SRCDIR/t/lib/common.sh"
for p in "$DMARCWATCH" "$MILTER" "$DAEMON"; do
  [ -x "$p" ] || { echo "Bail out! $p not built"; exit 99; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-paths.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
: > "$TMP/empty.conf"

# has FILE TEXT: FILE holds TEXT (fixed string); says which file does not.
has() {
  grep -qF -- "$2" "$1" && return 0
  echo "# $1 does not say '$2'"
  return 1
}
# lacks FILE TEXT: FILE does not hold TEXT.
lacks() {
  ! grep -nF -- "$2" "$1" | sed "s|^|# $1:|" | grep . ; }

# The reference: what the command line program was built with.
"$DMARCWATCH" --help > "$TMP/dmarcwatch.help"
CONF=$(sed -n 's/.*configuration file (default \([^,]*\),.*/\1/p' "$TMP/dmarcwatch.help")
"$DMARCWATCH" -c "$TMP/empty.conf" --dump-config > "$TMP/dmarcwatch.dump"
DB=$(sed -n 's/^Database \([^ ]*\).*/\1/p' "$TMP/dmarcwatch.dump")
RUN=$(sed -n 's|^# \(/.*\)/dmarcwatch-milter\.pid\..*|\1|p' "$TMP/dmarcwatch.dump")
echo "# configuration file '$CONF', store '$DB', run directory '$RUN'"
check "dmarcwatch --help names the configuration file" test -n "$CONF"
check "dmarcwatch --dump-config names the store" test -n "$DB"
check "dmarcwatch --dump-config gives a run directory (PidFile's example)" test -n "$RUN"
[ -n "$CONF" ] && [ -n "$DB" ] && [ -n "$RUN" ] || { summary; exit 1; }
DEFAULTS=no
[ "$CONF" = /etc/dmarcwatch.conf ] && [ "$DB" = /var/lib/dmarcwatch ] && [ "$RUN" = /run/dmarcwatch ] && DEFAULTS=yes

# The programs.
check "dmarcwatch --help: the --db default" grep -qF "$DB);" "$TMP/dmarcwatch.help"
check "dmarcwatch --dump-config: DaemonPidFile's example in the run directory" \
  has "$TMP/dmarcwatch.dump" "$RUN/dmarcwatchd.pid"
check "dmarcwatch --dump-config: a unix Socket example in the run directory" \
  has "$TMP/dmarcwatch.dump" "unix:$RUN/milter.sock"
"$MILTER" --help > "$TMP/milter.help"
check "dmarcwatch-milter --help: the configuration file" has "$TMP/milter.help" "configuration file (default $CONF)"
check "dmarcwatch-milter --help: the store" has "$TMP/milter.help" "the store $DB "
"$DAEMON" --help > "$TMP/daemon.help"
check "dmarcwatchd --help: the configuration file" has "$TMP/daemon.help" "configuration file (default $CONF)"
check "dmarcwatchd --help: the store" has "$TMP/daemon.help" "the store $DB"
"$MILTER" -c "$TMP/empty.conf" --dump-config > "$TMP/milter.dump"
check "dmarcwatch-milter --dump-config: Database" grep -qx "Database $DB" "$TMP/milter.dump"
"$DAEMON" -c "$TMP/empty.conf" --dump-config > "$TMP/daemon.dump"
check "dmarcwatchd --dump-config: Database" grep -qx "Database $DB" "$TMP/daemon.dump"
check "the three programs dump the same defaults" all cmp -s "$TMP/dmarcwatch.dump" "$TMP/milter.dump" -- \
  cmp -s "$TMP/dmarcwatch.dump" "$TMP/daemon.dump"

# The manual pages (made from .in templates with configure's paths).
MAN1=$BUILDDIR/collector/cli/dmarcwatch.1
MAN8M=$BUILDDIR/milter/dmarcwatch-milter.8
MAN8D=$BUILDDIR/collector/daemon/dmarcwatchd.8
MAN5=$BUILDDIR/conf/dmarcwatch.conf.5
for m in "$MAN1" "$MAN8M" "$MAN8D" "$MAN5"; do
  check "$(basename "$m"): made, no @token@ left" all test -s "$m" -- not grep -qE '@(sysconfdir|localstatedir|runstatedir|pkgdatadir|sbindir|bindir)@' "$m"
  check "$(basename "$m"): the configuration file" has "$m" "$CONF"
  if [ "$DEFAULTS" = no ]; then
    # This build's own paths may end in the default ones (make distcheck's .../_inst/etc/dmarcwatch.conf):
    # they are taken out first.
    grep -vF -e "$CONF" -e "$DB" "$m" > "$TMP/man.other"
    check "$(basename "$m"): no default path of another build" all \
      lacks "$TMP/man.other" /etc/dmarcwatch.conf -- lacks "$TMP/man.other" /var/lib/dmarcwatch
  fi
done
check "dmarcwatch(1): the store in FILES" has "$MAN1" ".I $DB"
check "dmarcwatchd(8): the store and its socket" all has "$MAN8D" ".I $DB" -- has "$MAN8D" "$DB/dmarcwatchd.sock"
check "dmarcwatch.conf(5): Database's default" has "$MAN5" "Database \"\\fR(default \\fP$DB\\fR)\\fP\""
check "dmarcwatch.conf(5): the pid files' examples" all has "$MAN5" "$RUN/dmarcwatch\\-milter.pid" -- \
  has "$MAN5" "$RUN/dmarcwatchd.pid"

# The systemd units: built from templates into the build tree when that exists, else the static
# ones of contrib/ (which name the default paths).
units=()
for u in dmarcwatch-milter dmarcwatchd; do
  if [ -f "$BUILDDIR/contrib/systemd/$u.service" ]; then
    units+=("$BUILDDIR/contrib/systemd/$u.service")
  elif [ -f "$SRCDIR/contrib/$u.service" ]; then
    [ "$DEFAULTS" = yes ] && units+=("$SRCDIR/contrib/$u.service")
  fi
done
[ "${#units[@]}" -gt 0 ] || echo "# no unit checked: no built unit, and the static ones name the default paths only"
for u in "${units[@]}"; do
  # Every -c FILE names the configuration file; every path of the store or the run directory is it.
  bad=$(grep -oE -- '-c [^ ]+' "$u" | sed 's/^-c //' | grep -vxF -- "$CONF")
  check "$u: ExecStart's -c is $CONF" test -z "$bad"
  [ -z "$bad" ] || echo "# $u: -c $bad"
  bad=$(grep -oE '/[^ =:,;()]*/(lib|run)/dmarcwatch[^ ,;()]*|/run/dmarcwatch[^ ,;()]*' "$u" | sed 's/[.]$//' |
    grep -vE "^($DB|$RUN)(/|\$)")
  check "$u: store and run paths are $DB and $RUN" test -z "$bad"
  [ -z "$bad" ] || echo "# $u: $bad"
  # StateDirectory=/RuntimeDirectory= are always under /var/lib and /run: they are the store and
  # the run directory in a build with the default paths (the units say so for any other).
  if [ "$DEFAULTS" = yes ] && grep -q '^StateDirectory=dmarcwatch' "$u"; then
    check "$u: StateDirectory=dmarcwatch is the store ($DB)" test "$DB" = /var/lib/dmarcwatch
  fi
  if [ "$DEFAULTS" = yes ] && grep -q '^RuntimeDirectory=dmarcwatch' "$u"; then
    check "$u: RuntimeDirectory=dmarcwatch is the run directory ($RUN)" test "$RUN" = /run/dmarcwatch
  fi
done

# The static texts name the default paths: compared in a build that has them.
if [ "$DEFAULTS" = yes ]; then
  SAMPLE=$SRCDIR/conf/dmarcwatch.conf
  check "conf/dmarcwatch.conf: installed as the configuration file" has "$SAMPLE" "Install as $CONF"
  check "conf/dmarcwatch.conf: Database" grep -qx "Database $DB" "$SAMPLE"
  check "conf/dmarcwatch.conf: the pid files in the run directory" all \
    grep -qx "#PidFile $RUN/dmarcwatch-milter.pid" "$SAMPLE" -- grep -qx "#DaemonPidFile $RUN/dmarcwatchd.pid" "$SAMPLE"
  README=$SRCDIR/README
  check "README: the configuration file" has "$README" "default $CONF when it exists"
  check "README: the store" grep -qE "^ +Database +$DB " "$README"
  for f in "$SAMPLE" "$README"; do
    check "$(basename "$f"): no other configuration file or store path" all \
      lacks "$f" /usr/local/etc/dmarcwatch -- lacks "$f" /usr/local/var -- lacks "$f" /var/run/dmarcwatch
  done
else
  echo "# README and conf/dmarcwatch.conf not compared: they name the default paths, this build has others"
fi
summary
