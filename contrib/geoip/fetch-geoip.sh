#!/usr/bin/env bash
# fetch-geoip.sh - fetch the GeoIP data dmarcwatch can use and make it ready to configure.
#
#   fetch-geoip.sh [TARGET-DIR]        (default /var/lib/dmarcwatch/geoip)
#
# Fetches two npm packages of ip-location-db with `npm pack` (no global install, nothing
# is run from them): @ip-location-db/geo-whois-asn-country-mmdb (the country MMDB, used as
# shipped) and @ip-location-db/asn (a CSV of IPv4 and IPv6 ranges with AS number and
# organisation, converted to MMDB by csv-to-mmdb.py beside this script).  Writes into
# TARGET-DIR:
#   geo-whois-asn-country.mmdb   for GeoIPCountry
#   asn.mmdb                     for GeoIPAsn
#   licences/<package>/          the licence files and README each package ships
#   <package>.version            the version installed (what makes a rerun cheap)
# and prints the two configuration lines to add to dmarcwatch.conf.
#
# Idempotent: a package whose version equals the installed one is not fetched again.
# Files are replaced by rename, so a running daemon never reads half a file (it keeps the
# old one open until it reloads).  Licences: see the README section "GeoIP" (the data is
# CC BY 4.0 and wants attribution).  Needs npm, tar and python3; only the npm registry is
# contacted, through npm's own configuration.  Exit 0 on success, 1 on any failure (the
# files already installed stay as they were), 2 on usage.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
case ${1:-} in
  -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
  -V|--version) echo "fetch-geoip.sh (dmarcwatch)"; exit 0 ;;
  -*) echo "usage: $0 [TARGET-DIR] (see --help)" >&2; exit 2 ;;
esac
target=${1:-/var/lib/dmarcwatch/geoip}
[ $# -le 1 ] || { echo "usage: $0 [TARGET-DIR]" >&2; exit 2; }
npm=${NPM:-npm}
python=${PYTHON:-python3}
country_pkg=@ip-location-db/geo-whois-asn-country-mmdb
asn_pkg=@ip-location-db/asn

die() { echo "fetch-geoip: $*" >&2; exit 1; }
command -v "$npm" >/dev/null || die "npm not found (Debian package npm); or configure GeoIPCountry/GeoIPAsn with files of your own"
command -v "$python" >/dev/null || die "python3 not found (Debian package python3)"
[ -r "$here/csv-to-mmdb.py" ] || die "$here/csv-to-mmdb.py is missing"

mkdir -p "$target"
chmod 755 "$target"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fetch-geoip.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Step: the package's version in the registry; "" when it is what TARGET-DIR holds.
# $1 package, $2 file it installs.
stamp_name() { echo "${1#@ip-location-db/}.version"; }
wanted_version() {
  local version
  version=$(cd "$tmp" && "$npm" view "$1" version) || die "npm view $1 failed"
  [ -n "$version" ] || die "npm view $1: no version"
  if [ -s "$target/$2" ] && [ "$(cat "$target/$(stamp_name "$1")" 2>/dev/null)" = "$version" ]; then
    echo "fetch-geoip: $1 $version is installed" >&2
    return 0
  fi
  echo "$version"
}

# Step: `npm pack PACKAGE@VERSION` into $tmp and unpack it under $tmp/<name>/package.
unpack() {
  local pkg=$1 version=$2 name=${1#@ip-location-db/} tarball
  tarball=$(cd "$tmp" && "$npm" pack --silent "$pkg@$version" | tail -n 1) || die "npm pack $pkg@$version failed"
  [ -f "$tmp/$tarball" ] || die "npm pack $pkg@$version: no tarball"
  mkdir -p "$tmp/$name"
  tar -xzf "$tmp/$tarball" -C "$tmp/$name" --no-same-owner --no-same-permissions
  # The licences travel with the data.
  rm -rf "$target/licences/$name.new"
  mkdir -p "$target/licences/$name.new"
  find "$tmp/$name/package" -maxdepth 1 -type f \( -name '*LICENSE*' -o -name 'MODIFICATIONS' \
    -o -name 'README.md' -o -name 'package.json' \) -exec cp {} "$target/licences/$name.new/" \;
}

# Step: a data file's date from the package version (2.3.2026061719 -> 2026-06-17); warn when
# old: ip-location-db said it stops updating its npm packages (README "GeoIP").
warn_if_old() {
  local version=$1 stamp day age
  stamp=${version##*.}
  [[ $stamp =~ ^[0-9]{10}$ ]] || return 0
  day="${stamp:0:4}-${stamp:4:2}-${stamp:6:2}"
  age=$(( ($(date -u +%s) - $(date -u -d "$day" +%s 2>/dev/null || date -u +%s)) / 86400 ))
  if [ "$age" -gt 60 ]; then
    echo "fetch-geoip: warning: $2 is data of $day ($age days old); see README \"GeoIP\" on updates" >&2
  fi
}

# Step: finish a package: licences and version stamp in place (after its data file).
finish() {
  local name=${1#@ip-location-db/}
  rm -rf "$target/licences/$name"
  mv "$target/licences/$name.new" "$target/licences/$name"
  echo "$2" >"$target/$(stamp_name "$1").new"
  mv "$target/$(stamp_name "$1").new" "$target/$(stamp_name "$1")"
}

# The country MMDB, as shipped (IPv4 and IPv6 in one file).
version=$(wanted_version "$country_pkg" geo-whois-asn-country.mmdb)
if [ -n "$version" ]; then
  echo "fetch-geoip: fetching $country_pkg $version" >&2
  unpack "$country_pkg" "$version"
  file="$tmp/geo-whois-asn-country-mmdb/package/geo-whois-asn-country.mmdb"
  [ -s "$file" ] || die "$country_pkg $version has no geo-whois-asn-country.mmdb"
  # An MMDB file ends with its metadata, after the marker \xab\xcd\xefMaxMind.com.
  tail -c 131072 "$file" | grep -qa 'MaxMind\.com' || die "$country_pkg $version: geo-whois-asn-country.mmdb is not an MMDB file"
  install -m 644 "$file" "$target/geo-whois-asn-country.mmdb.new"
  mv "$target/geo-whois-asn-country.mmdb.new" "$target/geo-whois-asn-country.mmdb"
  finish "$country_pkg" "$version"
  warn_if_old "$version" "$country_pkg"
fi

# The AS numbers: the CSV converted (about 20 s and 400 MB of memory for 515,000 ranges).
version=$(wanted_version "$asn_pkg" asn.mmdb)
if [ -n "$version" ]; then
  echo "fetch-geoip: fetching $asn_pkg $version" >&2
  unpack "$asn_pkg" "$version"
  dir="$tmp/asn/package"
  for csv in asn-ipv4.csv asn-ipv6.csv; do
    [ -s "$dir/$csv" ] || die "$asn_pkg $version has no $csv"
  done
  echo "fetch-geoip: converting asn-ipv4.csv and asn-ipv6.csv to $target/asn.mmdb" >&2
  "$python" "$here/csv-to-mmdb.py" --layout asn --type "ip-location-db-asn" \
    --description "ip-location-db asn $version (RouteViews, RIRs via NRO, DB-IP; CC BY 4.0)" \
    "$target/asn.mmdb" "$dir/asn-ipv4.csv" "$dir/asn-ipv6.csv" || die "converting $asn_pkg $version failed"
  chmod 644 "$target/asn.mmdb"
  finish "$asn_pkg" "$version"
  warn_if_old "$version" "$asn_pkg"
fi

echo "fetch-geoip: add to dmarcwatch.conf:" >&2
echo "GeoIPCountry $target/geo-whois-asn-country.mmdb"
echo "GeoIPAsn $target/asn.mmdb"
