#!/usr/bin/env bash
# setup.sh - one command from a fresh Debian 12 machine to a working dmarcwatch.
#
#   ./setup.sh demo    install what is needed, build, and run the demo: a private
#                      Postfix on loopback with dmarcwatch-milter, sample reports
#                      sent through SMTP, then `dmarcwatch status`
#   ./setup.sh check   install what is needed (and, for the tests only, chromium, clang,
#                      sendmail's and unbound's binaries), build, and run the whole test suite
#   ./setup.sh build   install what is needed and build only
#   ./setup.sh geoip [DIR]  build, then fetch the GeoIP data with npm into DIR (default
#                      /var/lib/dmarcwatch/geoip; contrib/geoip/fetch-geoip.sh, README
#                      "GeoIP") and print the GeoIPCountry/GeoIPAsn lines to configure.
#                      Optional: nothing else needs it or the network.
#
# Idempotent: packages already present are not reinstalled; the build happens in
# ./build (VPATH) and is reused.  Needs root (or sudo) for apt-get only.
set -euo pipefail
cd "$(dirname "$0")"
top=$(pwd)
mode=${1:-}
case $mode in demo|check|build|geoip) ;; *) echo "usage: $0 demo|check|build|geoip [DIR]" >&2; exit 2 ;; esac

packages=(
  build-essential autoconf automake autoconf-archive libtool pkg-config make
  libmilter-dev liblmdb-dev lmdb-utils libxml2-dev zlib1g-dev libboost-test-dev
  libunbound-dev libspf2-dev libopendmarc-dev libopendkim-dev
  postfix miltertest swaks syslog-ng-core python3 libxml2-utils time procps m4
  publicsuffix libmaxminddb-dev
)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# install_packages PACKAGE...: apt-get install those not installed yet; fails when apt-get does
# (the policy-rc.d guard removed either way).
install_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}"
  # No system Postfix instance: the tests and the demo run private ones.
  echo 'postfix postfix/main_mailer_type select No configuration' | as_root debconf-set-selections
  # Never start the system services these packages ship (syslog-ng, postfix).
  local guard='' rc=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod 755 /usr/sbin/policy-rc.d
    guard=1
  fi
  as_root apt-get -o DPkg::Lock::Timeout=300 update -q || rc=$?
  [ "$rc" -ne 0 ] || as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q \
    --no-install-recommends "${missing[@]}" || rc=$?
  if [ -n "$guard" ]; then as_root rm -f /usr/sbin/policy-rc.d; fi
  return "$rc"
}

# Programs only the tests run, never installed as packages: a package would bring a system
# service with it (sendmail would replace Postfix; unbound would enable a resolver on port 53).
# Their .debs are downloaded and unpacked under /var/cache/dmarcwatch-test/NAME/tree (the tests
# run the binaries from there), and the shared libraries the first package needs are installed.
# ./setup.sh check fetches them; without network the tests that need them skip.
#   sendmail: t/e2e/sendmail-loopback.sh and the bench (t/lib/sendmail-private.sh)
#   unbound:  the dns unit tests, t/e2e/unbound-enrich.sh, make bench-enrich (t/lib/unbound-private.sh)
test_cache=/var/cache/dmarcwatch-test
# fetch_unpacked NAME PACKAGE...
fetch_unpacked() {
  local name=$1 p deb libs=() missing=()
  shift
  local cache=$test_cache/$name pkgs=("$@")
  [ -e "$cache/tree/.complete" ] && return 0
  as_root mkdir -p "$cache"
  for p in "${pkgs[@]}"; do
    compgen -G "$cache/${p}_*.deb" >/dev/null && continue
    echo "setup: downloading $p into $cache"
    # The package lists may be missing on a machine that had everything else installed.
    (cd "$cache" && as_root apt-get -q -o APT::Sandbox::User=root download "$p") ||
      { as_root apt-get -o DPkg::Lock::Timeout=300 update -q &&
        (cd "$cache" && as_root apt-get -q -o APT::Sandbox::User=root download "$p"); } ||
      { echo "setup: cannot download $p: the tests that need $name will skip" >&2; return 0; }
  done
  # The first package's shared libraries (its Depends that start with lib).
  deb=$(compgen -G "$cache/${pkgs[0]}_*.deb" | sort | tail -n1)
  read -r -a libs <<<"$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -n 's/^ *\(lib[^ (|]*\).*/\1/p' | tr '\n' ' ')"
  for p in "${libs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q \
      --no-install-recommends "${missing[@]}"
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

install_packages "${packages[@]}"
if [ "$mode" = check ]; then # only the test suite (and the benches) run them
  # Headless Chromium renders `dmarcwatch report --html` (t/lib/chromium-headless.sh).  A plain
  # package, no service; without recommends it brings libraries only (with them: systemd-sysv,
  # udev, avahi-daemon).  Best effort: without it those tests skip.
  install_packages chromium ||
    echo "setup: cannot install chromium: t/e2e/chromium-smoke.sh and the HTML report tests will skip" >&2
  # clang and libFuzzer for `make fuzz` (.ci/sanitize.sh); best effort: without them it skips.
  install_packages clang libclang-rt-dev ||
    echo "setup: cannot install clang: make fuzz will skip" >&2
  fetch_unpacked sendmail sendmail-bin sendmail-base sendmail-cf
  fetch_unpacked unbound unbound
fi
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
