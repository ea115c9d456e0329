#!/bin/sh
# Golden output of dmarcwatch status (see status-golden-test.py).
exec python3 "$(dirname "$0")/status-golden-test.py" "$@"
