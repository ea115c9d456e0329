#!/bin/bash
# store-group-test.sh - an admin in the store's group can run `dmarcwatch status` (issue 15):
# a throwaway service user (dwt-store) creates a store with umask 022 as the milter would;
# a throwaway admin (dwt-admin, in group dwt-store) runs status on it and gets the report's
# domain; another user (dwt-other, not in the group) gets a clear error naming the path
# (Permission denied), exit 1 or 2, no crash.  Also: the store directory is 0750, data.mdb
# group-readable and lock.mdb group-writable; so they stay after root runs `reindex` (the admin
# still runs status), and so a store created under umask 077 is too.
# Root only (skip 77 otherwise); skips when any of the names exists; the users and the group
# are removed at exit.  TAP-ish lines, "N passed, M failed".
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
DMARCWATCH=$BUILDDIR/collector/cli/dmarcwatch
. "$SRCDIR/t/lib/common.sh"
[ -x "$DMARCWATCH" ] || { echo "Bail out! $DMARCWATCH not built"; exit 99; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (creates throwaway users)"; exit 77; }
for tool in useradd userdel groupdel setpriv; do
  command -v "$tool" > /dev/null || { echo "SKIP: $tool not found"; exit 77; }
done
for name in dwt-store dwt-admin dwt-other; do
  if getent passwd "$name" > /dev/null || getent group "$name" > /dev/null; then
    echo "SKIP: user or group $name exists already (not ours to touch)"
    exit 77
  fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-group.XXXXXX")
chmod 755 "$TMP"
CREATED=()
cleanup() {
  local name
  for name in "${CREATED[@]}"; do userdel "$name" 2> /dev/null; done
  getent group dwt-store > /dev/null && groupdel dwt-store 2> /dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The users run the build's program: every directory above it must let them in.
as_user() { local user=$1; shift; (umask "${UMASK:-022}" && setpriv --reuid="$user" --regid="$user" --init-groups "$@"); }
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin dwt-store && CREATED+=(dwt-store)
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin -G dwt-store dwt-admin && CREATED+=(dwt-admin)
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin dwt-other && CREATED+=(dwt-other)
[ "${#CREATED[@]}" = 3 ] || { echo "Bail out! useradd failed"; exit 99; }
as_user dwt-other test -x "$DMARCWATCH" || { echo "SKIP: the build tree is not reachable by other users"; exit 77; }

cp "$SRCDIR/t/data/samples/"*.xml "$TMP/" 2> /dev/null
ls "$TMP"/*.xml > /dev/null 2>&1 || { echo "Bail out! no sample report in t/data/samples"; exit 99; }
chmod 644 "$TMP"/*.xml
: > "$TMP/test.conf" && chmod 644 "$TMP/test.conf"
# The service user's home, where it creates the store (the admin may pass through).
mkdir "$TMP/home" && chown dwt-store:dwt-store "$TMP/home" && chmod 755 "$TMP/home"
STORE=$TMP/home/store

as_user dwt-store "$DMARCWATCH" -c "$TMP/test.conf" --db "$STORE" ingest "$TMP"/*.xml > "$TMP/ingest.out" 2>&1
check "the service user creates the store with ingest --db" test -f "$STORE/data.mdb"
[ -f "$STORE/data.mdb" ] || sed 's/^/# /' "$TMP/ingest.out"
check "the store directory is 0750" test "$(stat -c %a "$STORE")" = 750
check "data.mdb is group-readable, not group-writable, not world-readable" \
  test "$(stat -c %a "$STORE/data.mdb")" = 640
check "lock.mdb is group-writable (readers register in it)" test "$(stat -c %a "$STORE/lock.mdb")" = 660
check "owned by the service user" test "$(stat -c %U:%G "$STORE/data.mdb")" = dwt-store:dwt-store

# admin_status STORE NAME: the admin runs status --json on STORE (NAME.out, NAME.err): exit 0,
# the stored domains shown.
admin_status() {
  as_user dwt-admin "$DMARCWATCH" -c "$TMP/test.conf" --db "$1" status --since all --json \
    > "$TMP/$2.out" 2> "$TMP/$2.err" && grep -q '"domain"' "$TMP/$2.out" && return 0
  sed 's/^/# /' "$TMP/$2.err"
  return 1
}
# modes STORE: the modes of the directory, data.mdb and lock.mdb, on one line.
modes() { stat -c %a "$1" "$1/data.mdb" "$1/lock.mdb" | tr '\n' ' '; }

check "an admin in the group runs status (exit 0) and sees the stored domains" admin_status "$STORE" admin

as_user dwt-other "$DMARCWATCH" -c "$TMP/test.conf" --db "$STORE" status > "$TMP/other.out" 2> "$TMP/other.err"
rc=$?
echo "# dwt-other: exit $rc: $(head -c 300 "$TMP/other.err")"
check "a user outside the group is refused (exit 1 or 2, not a crash)" test "$rc" = 1 -o "$rc" = 2
check "... with Permission denied naming the store" all grep -q "Permission denied" "$TMP/other.err" -- \
  grep -qF "$STORE" "$TMP/other.err"

# reindex run by root (sudo) gives the new store the old one's owner and keeps the group bits.
(umask 022 && "$DMARCWATCH" -c "$TMP/test.conf" --db "$STORE" reindex > "$TMP/reindex.out" 2>&1)
rc=$?
check "root reindexes the store (exit 0)" test "$rc" = 0
[ "$rc" = 0 ] || sed 's/^/# /' "$TMP/reindex.out"
check "after reindex: the directory is 0750, data.mdb 0640, lock.mdb 0660" test "$(modes "$STORE")" = "750 640 660 "
check "after reindex: owned by the service user" \
  test "$(stat -c %U:%G "$STORE/data.mdb" "$STORE/lock.mdb" | tr '\n' ' ')" = "dwt-store:dwt-store dwt-store:dwt-store "
check "after reindex: the admin in the group runs status and sees the stored domains" admin_status "$STORE" admin2

# A service user with umask 077 still makes a store its group can read.
STRICT=$TMP/home/strict
UMASK=077 as_user dwt-store "$DMARCWATCH" -c "$TMP/test.conf" --db "$STRICT" ingest "$TMP"/*.xml \
  > "$TMP/strict.out" 2>&1
check "umask 077: the service user creates the store" test -f "$STRICT/data.mdb"
[ -f "$STRICT/data.mdb" ] || sed 's/^/# /' "$TMP/strict.out"
check "umask 077: the directory is 0750, data.mdb 0640, lock.mdb 0660" test "$(modes "$STRICT")" = "750 640 660 "
check "umask 077: the admin in the group runs status and sees the stored domains" admin_status "$STRICT" admin3
summary
