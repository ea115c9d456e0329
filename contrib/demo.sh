#!/usr/bin/env bash
# demo.sh BUILDDIR - the main job on an embedded default (run by ./setup.sh demo).
#
# Until the milter is wired in, the demo ingests the sample reports of
# t/data/samples into a fresh store and prints `dmarcwatch status`.
set -euo pipefail
builddir=${1:?usage: demo.sh BUILDDIR}
top=$(cd "$(dirname "$0")/.." && pwd)
dw="$builddir/collector/dmarcwatch"
work=$(mktemp -d /tmp/dmarcwatch-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== dmarcwatch ingest (store: $work/db)"
"$dw" --db "$work/db" ingest "$top"/t/data/samples/*.eml "$top"/t/data/samples/*.xml* || true
echo
echo "== dmarcwatch status --since all"
"$dw" --db "$work/db" status --since all
