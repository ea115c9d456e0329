# shellcheck shell=bash
# bench-lib.sh - helpers shared by the benchmark scripts in t/bench/.
#
# Sourced by run-bench.sh, bench-postfix.sh and bench-peers.sh (bash only).
# Measurement is whole-process: wall clock from date(1) in nanoseconds around
# the command, peak RSS from GNU time's %M (Debian package "time").  Nothing
# here starts a daemon; functions return the command's exit status and never
# exit the caller.

BENCH_TIME=${BENCH_TIME:-/usr/bin/time}
PYTHON=${PYTHON:-/usr/bin/python3}

# bench_require TOOL...: fail with the Debian package to install when missing.
bench_require() {
  local tool
  for tool in "$@"; do
    case $tool in
    "$BENCH_TIME") [ -x "$BENCH_TIME" ] || { echo "bench: $BENCH_TIME missing (apt-get install time)" >&2; return 1; } ;;
    "$PYTHON") [ -x "$PYTHON" ] || { echo "bench: $PYTHON missing (apt-get install python3)" >&2; return 1; } ;;
    *) command -v "$tool" >/dev/null || { echo "bench: $tool missing" >&2; return 1; } ;;
    esac
  done
}

# bench_machine: one Markdown line describing this machine and the date.
bench_machine() {
  local cpu mem
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n1)
  mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
  printf 'Machine: %s CPUs (nproc), %s, %s RAM, %s; %s UTC; load average at start %s.\n' \
    "$(nproc)" "${cpu:-unknown CPU}" "${mem:-? GiB}" "$(uname -sr)" "$(date -u '+%Y-%m-%d %H:%M')" \
    "${BENCH_LOAD:-$(cut -d' ' -f1-3 /proc/loadavg)}"
}

# measure OUT ERR CMD...: run CMD with stdout to OUT and stderr to ERR.
# Sets M_WALL (seconds, 3 decimals), M_CPU (user + system seconds) and M_RSS
# (peak RSS in KiB); returns CMD's exit status.  CPU time barely moves when
# other work shares the cores; wall time does, so both are reported.
# shellcheck disable=SC2034 # M_WALL, M_CPU, M_RSS are the results
measure() {
  local out=$1 err=$2 tf start end rc=0
  shift 2
  tf=$(mktemp "${TMPDIR:-/tmp}/bench-time.XXXXXX")
  start=$(date +%s%N)
  "$BENCH_TIME" -f '%M %U %S' -o "$tf" "$@" >"$out" 2>"$err" || rc=$?
  end=$(date +%s%N)
  M_WALL=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.3f", ns / 1e9 }')
  # GNU time prefixes "Command exited with non-zero status N" on failure
  read -r M_RSS M_CPU <<<"$(tail -n1 "$tf" | awk '{ printf "%s %.2f", $1, $2 + $3 }')"
  rm -f "$tf"
  return $rc
}

# stats V...: print "median min max" of the numbers given.
stats() {
  printf '%s\n' "$@" | sort -g | awk '
    { v[NR] = $1 }
    END {
      if (NR == 0) { print "- - -"; exit }
      med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%.3f %.3f %.3f\n", med, v[1], v[NR]
    }'
}

# fmt_s SECONDS: human seconds (ms below 1 s).
fmt_s() {
  awk -v s="$1" 'BEGIN {
    if (s == "-" || s == "") { print "-"; exit }
    if (s < 1) printf "%.0f ms", s * 1000; else if (s < 10) printf "%.2f s", s; else printf "%.1f s", s }'
}

# fmt_mib KIB: KiB as MiB with one decimal.
fmt_mib() {
  awk -v k="$1" 'BEGIN { if (k == "" || k == "-") print "-"; else printf "%.1f MiB", k / 1024 }'
}

# results_update FILE BODYFILE: replace the part of FILE between the
# "bench:begin"/"bench:end" markers with BODYFILE (create FILE if needed), so
# notes written by hand around the generated tables survive a rerun.
results_update() {
  local file=$1 body=$2 tag=${3:-bench}
  "$PYTHON" - "$file" "$body" "$tag" <<'EOF'
import os, sys
path, body_path, tag = sys.argv[1:4]
begin, end = f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"
body = open(body_path, encoding="utf-8").read().rstrip("\n") + "\n"
block = f"{begin}\n{body}{end}\n"
text = open(path, encoding="utf-8").read() if os.path.exists(path) else "# dmarcwatch benchmark results\n\n"
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1].lstrip("\n")
    text = head + block + ("\n" + tail if tail else "")
else:
    text = text.rstrip("\n") + "\n\n" + block
tmp = path + ".tmp"
open(tmp, "w", encoding="utf-8").write(text)
os.replace(tmp, path)
EOF
}

# --- process and port helpers (bench-postfix.sh) ---
# free_ports, wait_tcp, pid_alive and stop_pid are the test suite's own (t/lib/common.sh).
# shellcheck source=../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

# rss_split CMD...: run CMD (output discarded) and sample /proc/PID/status
# every 20 ms without forking; sets S_ANON and S_FILE (peak RssAnon and
# RssFile in KiB).  GNU time's max RSS counts file-backed pages too (an LMDB
# map is file-backed), so this tells heap growth from mapped store pages.
# Samples miss short peaks; a diagnostic, not the measurement.
# shellcheck disable=SC2034 # S_ANON, S_FILE are the results
rss_split() {
  local pid key value _ anon=0 file=0 state=R rc=0
  "$@" >/dev/null 2>&1 &
  pid=$!
  while [ "$state" != Z ] && [ -r "/proc/$pid/status" ]; do
    while read -r key value _; do
      case $key in
      State:) state=$value ;;
      RssAnon:) ((value > anon)) && anon=$value ;;
      RssFile:) ((value > file)) && file=$value ;;
      esac
    done <"/proc/$pid/status" 2>/dev/null || state=Z
    sleep 0.02
  done
  wait "$pid" || rc=$?
  S_ANON=$anon S_FILE=$file
  return $rc
}

# --- CPU accounting by control group (bench-postfix.sh) ---
# Each part of a measured setup (a Postfix instance, a milter, its load generators) runs in a
# cgroup of its own, so its CPU time is read exactly, whatever else the machine is running.
# cgroup v1 "cpuacct" (cpuacct.usage, ns) or v2 (cpu.stat usage_usec); needs root.
CG_ROOT=""

# cg_init: make this run's parent group; returns 1 when no hierarchy with CPU accounting is writable.
cg_init() {
  local base
  for base in /sys/fs/cgroup/cpuacct /sys/fs/cgroup/cpu,cpuacct /sys/fs/cgroup/unified /sys/fs/cgroup; do
    [ -e "$base/cpuacct.usage" ] || [ -e "$base/cgroup.controllers" ] || continue
    if mkdir "$base/dmarcwatch-bench.$$" 2>/dev/null; then
      CG_ROOT=$base/dmarcwatch-bench.$$
      return 0
    fi
  done
  return 1
}

# cg_new NAME: a child group of this run.
cg_new() { [ -z "$CG_ROOT" ] || mkdir -p "$CG_ROOT/$1"; }

# cg_usage NAME: CPU time used by the group's processes so far, in microseconds (0 without cgroups).
cg_usage() {
  local dir=$CG_ROOT/$1
  if [ -z "$CG_ROOT" ]; then
    echo 0
  elif [ -e "$dir/cpuacct.usage" ]; then
    echo $(($(cat "$dir/cpuacct.usage") / 1000))
  else
    awk '$1 == "usage_usec" { print $2 }' "$dir/cpu.stat"
  fi
}

# cg_exec NAME CMD...: run CMD inside group NAME, in the foreground.
cg_exec() {
  local name=$1
  shift
  (
    [ -z "$CG_ROOT" ] || echo "$BASHPID" >"$CG_ROOT/$name/cgroup.procs"
    exec "$@"
  )
}

# cg_spawn NAME CMD...: start CMD inside group NAME in the background; CG_PID is its PID
# (the subshell execs CMD, so stop_pid on CG_PID reaches CMD itself).
# shellcheck disable=SC2034 # CG_PID is the result
cg_spawn() {
  local name=$1
  shift
  (
    [ -z "$CG_ROOT" ] || echo "$BASHPID" >"$CG_ROOT/$name/cgroup.procs"
    exec "$@"
  ) &
  CG_PID=$!
}

# cg_cleanup: remove this run's groups; call once their processes are gone (retries while they exit).
cg_cleanup() {
  local i dir
  [ -n "$CG_ROOT" ] || return 0
  for ((i = 0; i < 50; i++)); do
    for dir in "$CG_ROOT"/*/; do
      rmdir "$dir" 2>/dev/null || true
    done
    rmdir "$CG_ROOT" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: could not remove $CG_ROOT (processes left in it?)" >&2
}
