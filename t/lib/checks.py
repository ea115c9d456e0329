"""checks.py - the one check counter of the Python tests: "ok - WHAT" /
"not ok - WHAT: DETAIL" per check, and the closing "N passed, M failed" line
that t/summarize.sh and CI read."""

passed = 0
failed = 0


def check(ok, what, detail=""):
    """Count and print one check; returns ok."""
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {what}")
    else:
        failed += 1
        print(f"not ok - {what}" + (f": {str(detail)[:2000]}" if detail else ""))
    return ok


def finish():
    """Print the closing line; the exit status (1 when any check failed)."""
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
