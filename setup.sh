#!/usr/bin/env bash
# setup.sh - one command from a fresh Debian 12 machine to a working dmarcwatch.
#
#   ./setup.sh build   install what a user needs (build dependencies and runtime libraries:
#                      user_packages below) and build in ./build
#   ./setup.sh demo    that, Postfix and python3 (demo_packages), then run the demo: a private
#                      Postfix on loopback with dmarcwatch-milter, sample reports sent through
#                      SMTP, then `dmarcwatch status` (contrib/demo.sh)
#   ./setup.sh check   that, the test suite's tools (test_packages; best effort chromium and
#                      clang; sendmail's and unbound's .debs unpacked, never installed), then
#                      build and run the whole test suite
#   ./setup.sh geoip [DIR]  build, then fetch the GeoIP data with npm into DIR (default
#                      /var/lib/dmarcwatch/geoip; contrib/geoip/fetch-geoip.sh, README
#                      "GeoIP") and print the GeoIPCountry/GeoIPAsn lines to configure.
#                      Optional: nothing else needs it or the network.
#
# Safe on a production host: no package is installed that would remove an installed one.
# Before installing, apt-get simulates the installation (its Remv lines), and a package that
# provides mail-transport-agent or system-log-daemon is set against the installed packages
# that provide the same (Postfix against Exim, Sendmail or OpenSMTPD; syslog-ng against
# rsyslog).  A test tool that would remove something is left out and its tests skip (check);
# a package the mode cannot do without (demo: Postfix; every mode: the user's packages) stops
# the script with a message naming both packages, exit 1, nothing installed.  Services the
# new packages ship are not started: a policy-rc.d denying every start is in place during the
# installation only (removed on any exit, apt-get failing or the script interrupted; one that
# was there before is left alone, and then it rules).  Nor do they start at the next boot: the
# systemd units of each package this run newly installed (postfix.service, syslog-ng.service:
# those under /lib/systemd/system in `dpkg -L`) are disabled with `systemctl disable` (offline
# too; skipped without systemctl).  A package installed before keeps its units as they were.
#
# Idempotent: packages already present are not reinstalled (nothing installed: apt-get is not
# run at all); the build happens in ./build (VPATH) and is reused.  Needs root (or sudo) for
# apt-get only.
#
# For t/setup/setup-safety-test.sh (never needed otherwise):
#   SETUP_INSTALL_ONLY=1   stop after the install phase (no build, no demo, no tests)
#   SETUP_POLICY_RC_D      the policy-rc.d path (default /usr/sbin/policy-rc.d)
#   SETUP_TEST_CACHE       where the unpacked test programs live (default /var/cache/dmarcwatch-test;
#                          the tests look there only)
# Sourced (`. setup.sh`), it defines the functions and package lists and runs nothing.

# What a user needs to build and run dmarcwatch: the compiler and autotools, the libraries
# configure requires (Boost.Test included: configure checks for it), lmdb-utils (mdb_dump and
# mdb_stat on a store) and publicsuffix (the Public Suffix List the programs read).
user_packages=(
  build-essential autoconf automake autoconf-archive libtool pkg-config make m4
  libmilter-dev liblmdb-dev lmdb-utils libxml2-dev zlib1g-dev libboost-test-dev
  libunbound-dev libspf2-dev libopendmarc-dev libopendkim-dev libssl-dev publicsuffix libmaxminddb-dev
)
# contrib/demo.sh: Postfix's binaries for its private instance, python3 for make-reports.py and
# smtp-send.py, ps (procps) for stop_pid.
demo_packages=(postfix python3 procps)
# make check (each test skips, saying why, without its tool):
#   postfix         t/e2e/postfix-loopback.sh, alerts-e2e.sh, report-auth.sh (private instances)
#   syslog-ng-core  t/e2e/syslog-ng-alerts.sh, alerts-e2e.sh (a private syslog-ng)
#   miltertest      t/milter/run-miltertest.sh, t/e2e/full-disk.sh
#   python3         the CLI, corpus, milter and e2e scripts
#   openssl         the DKIM test keys (dns-tests, auth-tests, t/e2e/report-auth.sh)
#   procps          ps in t/lib/common.sh (stop_pid), the daemon and e2e tests
#   time            GNU time for make bench (t/bench/bench-lib.sh)
#   debhelper dpkg-dev lintian            the package test (t/package/)
test_packages=(
  postfix syslog-ng-core miltertest python3 openssl procps time
  debhelper dpkg-dev lintian
)
# Virtual packages only one installed package may provide: another provider would replace it.
exclusive_virtuals=(mail-transport-agent system-log-daemon linux-kernel-log-daemon)

policy_rc_d=${SETUP_POLICY_RC_D:-/usr/sbin/policy-rc.d}
test_cache=${SETUP_TEST_CACHE:-/var/cache/dmarcwatch-test}
apt_lock=(-o DPkg::Lock::Timeout=300)
apt_updated=  # the package lists are fetched once a run, before the first simulation

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# missing_of PACKAGE...: those of PACKAGE... not installed, one a line (one dpkg-query for all).
missing_of() {
  local installed
  installed=$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null | sed -n 's/ install ok installed$//p') || true
  printf '%s\n' "$@" | grep -vxF -f <(printf '%s\n' "$installed") || true
}

# The policy-rc.d guard: placed just before apt-get install, removed right after it and, through
# the traps below, on any exit or signal.  guard_placed is set only when this script created the
# file (set -C: never over one that exists), so a policy-rc.d that was there before is kept.
guard_placed=
place_guard() {
  [ -e "$policy_rc_d" ] && { echo "setup: keeping the existing $policy_rc_d" >&2; return 0; }
  # shellcheck disable=SC2016 # $1 is for the inner shell
  if as_root bash -c 'set -C; printf "#!/bin/sh\n# ./setup.sh: no service starts while it installs\nexit 101\n" > "$1"' \
       _ "$policy_rc_d" 2>/dev/null; then
    guard_placed=1
    as_root chmod 755 "$policy_rc_d"
  fi
}
remove_guard() {
  [ -n "$guard_placed" ] || return 0
  as_root rm -f "$policy_rc_d" || echo "setup: could not remove $policy_rc_d: remove it by hand" >&2
  guard_placed=
}
on_signal() { remove_guard; trap - "$1"; kill -s "$1" $$; }

# installed_providers VIRTUAL [EXCEPT]: the installed packages other than EXCEPT that provide VIRTUAL.
installed_providers() {
  dpkg-query -W -f='${db:Status-Abbrev}|${Package}|${Provides}\n' 2>/dev/null |
    awk -F'|' -v v="$1" -v except="${2:-}" '
      $1 ~ /^[ih]i/ && $2 != except {
        n = split($3, p, ","); for (i = 1; i <= n; i++) { sub(/^ +/, "", p[i]); sub(/ .*/, "", p[i]); if (p[i] == v) { print $2; break } }
      }'
}

# replaced_by PACKAGE...: the installed packages that installing PACKAGE... would remove, one a
# line: apt-get's simulated Remv/Purg lines, and the installed providers of an exclusive virtual
# package a candidate provides.  A simulation that fails prints "?" and apt-get's last error.
replaced_by() {
  local p v sim provides
  if ! sim=$(apt-get -s "${apt_lock[@]}" install --no-install-recommends "$@" 2>&1); then
    echo "? $(grep -E '^E:' <<<"$sim" | tail -n 1)"
  fi
  {
    sed -n 's/^\(Remv\|Purg\) \([^ ]*\).*/\2/p' <<<"$sim"
    # The candidates' Provides (one apt-cache for all), "PACKAGE VIRTUAL" a line.
    provides=$(apt-cache show --no-all-versions "$@" 2>/dev/null | awk '
      /^Package: / { p = $2 }
      /^Provides: / { sub(/^Provides: /, ""); n = split($0, a, ",")
                      for (i = 1; i <= n; i++) { x = a[i]; sub(/^ +/, "", x); sub(/ .*/, "", x); print p, x } }') || true
    for v in "${exclusive_virtuals[@]}"; do
      # shellcheck disable=SC2013 # package names are words
      for p in $(awk -v v="$v" '$2 == v { print $1 }' <<<"$provides"); do installed_providers "$v" "$p"; done
    done
  } | sort -u
}

# describe LINES: replaced_by's answer as words for a message.
describe() {
  local names why
  names=$(grep -v '^?' <<<"$1" | tr '\n' ' ') || true
  why=$(sed -n 's/^? //p' <<<"$1") || true
  if [ -n "${names% }" ]; then printf 'it would remove or replace the installed %s' "${names% }"; fi
  if [ -n "$why" ]; then printf '%sapt-get cannot install it (%s)' "${names:+; }" "$why"; fi
}

# install_packages POLICY PACKAGE...: install those of PACKAGE... not installed yet, none that
# would remove an installed package.  POLICY "required": such a package stops the script
# (exit 1, nothing installed); "optional": it is left out with a message, the rest installed.
# Returns apt-get's status (the guard removed either way).
install_packages() {
  local policy=$1 p missing=() keep=() removed rc=0
  shift
  mapfile -t missing < <(missing_of "$@")
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "$apt_updated" ]; then as_root apt-get "${apt_lock[@]}" update -q || return; apt_updated=1; fi
  # Step 1: the whole set at once; only when it would remove something, each package alone
  # to name the culprit.
  removed=$(replaced_by "${missing[@]}")
  if [ -z "$removed" ]; then
    keep=("${missing[@]}")
  else
    for p in "${missing[@]}"; do
      removed=$(replaced_by "$p")
      if [ -z "$removed" ]; then keep+=("$p"); continue; fi
      if [ "$policy" = required ]; then
        echo "setup: NOT installing $p: $(describe "$removed")." >&2
        echo "setup: ./setup.sh ${mode:-} needs $p; nothing was installed." >&2
        if [ "$p" = postfix ]; then
          echo "setup: without Postfix: ./setup.sh build, then bash contrib/demo.sh build (it ingests the samples)." >&2
        fi
        exit 1
      fi
      echo "setup: not installing $p: $(describe "$removed"); the tests that need $p will skip" >&2
    done
    [ ${#keep[@]} -eq 0 ] && return 0
    # Step 2: what is left, together, must remove nothing either.
    removed=$(replaced_by "${keep[@]}")
    if [ -n "$removed" ]; then
      echo "setup: NOT installing ${keep[*]}: together $(describe "$removed")" >&2
      [ "$policy" = required ] && exit 1
      return 1
    fi
  fi
  echo "setup: installing ${keep[*]}"
  # No system Postfix instance: the tests and the demo run private ones.
  if [[ " ${keep[*]} " == *" postfix "* ]]; then
    echo 'postfix postfix/main_mailer_type select No configuration' | as_root debconf-set-selections
  fi
  # Never start the system services these packages ship (syslog-ng, postfix).
  place_guard
  as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_lock[@]}" install -y -q \
    --no-install-recommends "${keep[@]}" || rc=$?
  remove_guard
  [ "$rc" = 0 ] && disable_units_of "${keep[@]}"
  return "$rc"
}

# disable_units_of PACKAGE...: the system units PACKAGE... ship, disabled (no start at boot).
# Templates (NAME@.service) are left: they run only as an enabled unit's instances.
disable_units_of() {
  local unit
  command -v systemctl >/dev/null || return 0
  for unit in $(dpkg -L "$@" 2>/dev/null |
      sed -n 's#^\(/usr\)\{0,1\}/lib/systemd/system/\([^/@]*\.\(service\|socket\|timer\|path\)\)$#\2#p' | sort -u); do
    echo "setup: disabling $unit (newly installed; \`systemctl enable $unit\` to start it at boot)"
    as_root systemctl disable --quiet "$unit" || echo "setup: could not disable $unit" >&2
  done
}

# Programs only the tests run, never installed as packages: a package would bring a system
# service with it (sendmail would replace Postfix; unbound would enable a resolver on port 53).
# Their .debs are downloaded and unpacked under $test_cache/NAME/tree (the tests run the
# binaries from there), and the shared libraries the first package needs are installed.
# ./setup.sh check fetches them; without network the tests that need them skip.
#   sendmail: t/e2e/sendmail-loopback.sh and the bench (t/lib/sendmail-private.sh)
#   unbound:  the dns unit tests, t/e2e/unbound-enrich.sh, make bench-enrich (t/lib/unbound-private.sh)
# fetch_unpacked NAME PACKAGE...
fetch_unpacked() {
  local name=$1 p deb libs=()
  shift
  local cache=$test_cache/$name pkgs=("$@")
  [ -e "$cache/tree/.complete" ] && return 0
  as_root mkdir -p "$cache"
  for p in "${pkgs[@]}"; do
    compgen -G "$cache/${p}_*.deb" >/dev/null && continue
    echo "setup: downloading $p into $cache"
    # The package lists may be missing on a machine that had everything else installed.
    (cd "$cache" && as_root apt-get -q -o APT::Sandbox::User=root download "$p") ||
      { as_root apt-get "${apt_lock[@]}" update -q &&
        (cd "$cache" && as_root apt-get -q -o APT::Sandbox::User=root download "$p"); } ||
      { echo "setup: cannot download $p: the tests that need $name will skip" >&2; return 0; }
  done
  # The first package's shared libraries (its Depends that start with lib).
  deb=$(compgen -G "$cache/${pkgs[0]}_*.deb" | sort | tail -n1)
  read -r -a libs <<<"$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -n 's/^ *\(lib[^ (|]*\).*/\1/p' | tr '\n' ' ')"
  if [ ${#libs[@]} -gt 0 ]; then
    install_packages optional "${libs[@]}" ||
      { echo "setup: cannot install the libraries of $name: the tests that need it will skip" >&2; return 0; }
  fi
  as_root rm -rf "$cache/tree.new"
  for p in "${pkgs[@]}"; do
    deb=$(compgen -G "$cache/${p}_*.deb" | sort | tail -n1)
    as_root dpkg -x "$deb" "$cache/tree.new"
  done
  as_root touch "$cache/tree.new/.complete"
  as_root rm -rf "$cache/tree"
  as_root mv "$cache/tree.new" "$cache/tree"
}

# install_for MODE: the install phase of ./setup.sh MODE.  What the mode cannot do without is
# one set (checked as a whole before anything is installed); the test tools come after.
install_for() {
  case $1 in
    demo) install_packages required "${user_packages[@]}" "${demo_packages[@]}" ;;
    geoip) install_packages required "${user_packages[@]}" python3 ;;
    *) install_packages required "${user_packages[@]}" ;;
  esac
  case $1 in
    check)
      install_packages optional "${test_packages[@]}"
      # Headless Chromium renders `dmarcwatch report --html` (t/lib/chromium-headless.sh).  A plain
      # package, no service; without recommends it brings libraries only (with them: systemd-sysv,
      # udev, avahi-daemon).  Best effort: without it those tests skip.
      install_packages optional chromium ||
        echo "setup: cannot install chromium: t/e2e/chromium-smoke.sh and the HTML report tests will skip" >&2
      # clang and libFuzzer for `make fuzz` (.ci/sanitize.sh); best effort: without them it skips.
      install_packages optional clang libclang-rt-dev ||
        echo "setup: cannot install clang: make fuzz will skip" >&2
      fetch_unpacked sendmail sendmail-bin sendmail-base sendmail-cf
      fetch_unpacked unbound unbound
      ;;
  esac
}

build() {
  if [ ! -x configure ] || [ configure.ac -nt configure ]; then
    autoreconf -fi
  fi
  mkdir -p build
  cd build
  if [ ! -f Makefile ]; then
    ../configure --enable-werror
  fi
  make -j"$(nproc)"
  cd "$top"
}

# Sourced: the functions only.
(return 0 2>/dev/null) && return 0
set -euo pipefail

cd "$(dirname "$0")"
top=$(pwd)
mode=${1:-}
case $mode in demo|check|build|geoip) ;; *) echo "usage: $0 demo|check|build|geoip [DIR]" >&2; exit 2 ;; esac
trap remove_guard EXIT
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP

install_for "$mode"
[ "${SETUP_INSTALL_ONLY:-}" = 1 ] && exit 0
build
case $mode in
  build) ;;
  geoip)
    command -v npm >/dev/null || { echo "setup: geoip needs npm (apt-get install npm)" >&2; exit 1; }
    as_root bash contrib/geoip/fetch-geoip.sh "${2:-/var/lib/dmarcwatch/geoip}"
    ;;
  demo) exec bash contrib/demo.sh "$top/build" ;;
  check)
    cd build
    if ! make -j"$(nproc)" check; then
      sh ../t/summarize.sh . || true
      # Show why: the per-test logs of whatever failed.
      for log in $(find . -name '*.log' -newer Makefile | sort); do
        grep -q -E '^:test-result: (FAIL|ERROR)' "${log%.log}.trs" 2>/dev/null && { echo "=== $log"; tail -n 80 "$log"; }
      done
      exit 1
    fi
    sh ../t/summarize.sh .
    ;;
esac
