#!/bin/sh
# Report verdicts and per-day sender limits through the commands (see trust-test.py).
exec python3 "$(dirname "$0")/trust-test.py" "$@"
