# shellcheck shell=bash
# e2e-checks.sh - what the end-to-end tests (postfix-loopback.sh, sendmail-loopback.sh) check
# mail and the store with (source it after common.sh; bash).
#
# They read DMARCWATCH (the CLI), LIB (t/lib), TMP (the test's directory) and DB (the store;
# default $TMP/db).  The reports the tests send are dated 2023, so status looks at --since all.

# status_messages DOMAIN: the domain's message total from `dmarcwatch status --json --since all`
status_messages() {
  "$DMARCWATCH" --db "${DB:-$TMP/db}" status --json --since all 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(x["messages"] for x in d.get("domains", []) if x["domain"] == sys.argv[1]))' "$1"
}

# report_count PREFIX: "ALL DISTINCT", the reports whose id starts with PREFIX (each id once: equal)
report_count() {
  "$DMARCWATCH" --db "${DB:-$TMP/db}" reports --json 2>/dev/null | python3 -c '
import json, sys
ids = [r["report_id"] for r in json.load(sys.stdin)["reports"] if r["report_id"].startswith(sys.argv[1])]
print("%d %d" % (len(ids), len(set(ids))))' "$1"
}

# gen_total FIRST LAST: sum of n+1 for n = FIRST..LAST (make-reports.py's report n holds n + 1 messages)
gen_total() { python3 -c "import sys; a, b = map(int, sys.argv[1:]); print(sum(n + 1 for n in range(a, b + 1)))" "$1" "$2"; }

# verify LABEL EXPECT.tsv [WHERE...]: maildir-check.py's PASS/FAIL lines counted as results.
# WHERE: the Maildirs under $TMP/mail by default, or "--sink DIR" for smtp-sink dump files.
verify() {
  local label=$1 expect=$2 line
  shift 2
  [ $# -gt 0 ] || set -- "$TMP/mail"
  while IFS= read -r line; do
    case $line in
      PASS*) pass "${line#PASS }" ;;
      FAIL*) fail "${line#FAIL }" ;;
      *) echo "#   $line" ;;
    esac
  done < <(python3 "$LIB/maildir-check.py" "$@" "$expect" "$label")
}
