#!/bin/sh
# Corpus acceptance test (see corpus-test.py); skipped (77) when ../shared/corpus is absent.
exec python3 "$(dirname "$0")/corpus-test.py" "$@"
