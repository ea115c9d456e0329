#!/bin/sh
# dmarcwatchd's alerts through the programs, without root (see alerts-test.py).
exec python3 "$(dirname "$0")/alerts-test.py" "$@"
