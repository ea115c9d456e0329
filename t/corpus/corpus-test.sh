#!/bin/sh
# Corpus acceptance test (see corpus-test.py); skipped (77) when no shared/corpus is found.
exec python3 "$(dirname "$0")/corpus-test.py" "$@"
