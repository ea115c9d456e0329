#!/bin/sh
# Naming the senders through the commands (see naming-test.py).
exec python3 "$(dirname "$0")/naming-test.py" "$@"
