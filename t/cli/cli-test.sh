#!/bin/sh
# dmarcwatch command contract test (see cli-test.py).
exec python3 "$(dirname "$0")/cli-test.py" "$@"
