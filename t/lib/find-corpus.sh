#!/bin/sh
# find-corpus.sh DIR... - print the directory of the shared test corpus, or nothing.
#
# The corpus is shared/corpus beside the checkout (/work/shared beside
# /work/main; in CI, shared/ beside the clone).  From each DIR in turn (the
# source tree, then the build tree) up to /, the first ancestor A for which
# A/../shared/corpus/MANIFEST.tsv exists wins, so a distcheck tree
# (build/dmarcwatch-X/_build/sub, its sources in build/dmarcwatch-X) finds
# it as well as the checkout does.  An explicit CORPUS is the caller's to
# honour before asking (t/Makefile.inc, t/corpus/corpus-test.py).
# Exit status 0 either way; nothing printed means no corpus.
for start in "$@"; do
  dir=$(cd "$start" 2>/dev/null && pwd -P) || continue
  while :; do
    if [ -f "$dir/../shared/corpus/MANIFEST.tsv" ]; then
      (cd "$dir/../shared/corpus" && pwd -P)
      exit 0
    fi
    [ "$dir" = / ] && break
    dir=$(dirname "$dir")
  done
done
exit 0
