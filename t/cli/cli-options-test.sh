#!/bin/sh
# dmarcwatch options shared by every command (see cli-options-test.py).
exec python3 "$(dirname "$0")/cli-options-test.py" "$@"
