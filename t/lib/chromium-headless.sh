# shellcheck shell=bash
# chromium-headless.sh - render a local HTML file in headless Chromium (Debian's package) and
# keep what a test checks: console errors, refused external requests, the text shown, PNG
# screenshots per width (source it after common.sh; bash).  Used by t/e2e/chromium-smoke.sh
# and by the tests of `dmarcwatch report --html` (issue 13).
#
# How it runs (t/lib/chromium-cdp.py does the talking): the real binary, not the /usr/bin/chromium
# wrapper (that sources /etc/chromium.d, adds flags and extensions, and its /dev/shm check
# prints "[: unexpected operator" when findmnt lists /dev/shm twice), with --headless (the new
# headless mode; --headless=old is still accepted by 156 but not needed), --no-sandbox (root cannot use the
# sandbox, and chromium-sandbox is not installed), --disable-gpu, a profile in OUTDIR/profile,
# crash reporting, first-run, sync, component updates and background networking off, and no
# name resolution at all.  It speaks the DevTools protocol over --remote-debugging-pipe: no
# port, one browser start for every width, console levels kept apart, each request seen before
# it is made.  The D-Bus errors it prints on stderr (no system bus in a container) go to
# OUTDIR/browser.stderr and are never taken for page errors.
#
#   chromium_binary             the browser: $CHROMIUM, else /usr/lib/chromium/chromium, else
#                               chromium on PATH; fails, printing why on stdout, when none runs
#   chromium_render HTML OUTDIR HEIGHT WIDTH...
#                               load HTML (a local file) with a viewport of WIDTH x HEIGHT for
#                               each WIDTH in turn; writes into OUTDIR (see chromium-cdp.py):
#                               console.txt, external.txt, text-WIDTH.txt, dom.html,
#                               layout-WIDTH.txt, shot-WIDTH.png, timing.txt, browser.stderr.
#                               CHROMIUM_FULL_PAGE=1: each PNG is the whole page at WIDTH,
#                               not WIDTH x HEIGHT.  Bounded by CHROMIUM_TIMEOUT seconds (60); the profile and every
#                               process of the browser's group are gone when it returns.  Status
#                               0 when the page loaded, else non-zero with why on stderr.
#   chromium_errors OUTDIR      the error lines of console.txt: console.error/assert, uncaught
#                               exceptions, failed loads, CSP violations ("" when none)
#   chromium_external OUTDIR    the URLs the page tried to fetch from outside the file (each
#                               was refused; "" when the page is self-contained)
#   chromium_text OUTDIR WIDTH  the page's text as shown at WIDTH (innerText)
#   chromium_overflows OUTDIR WIDTH
#                               succeeds when the page is wider than the viewport at WIDTH
#                               (a horizontal scroll bar: the layout does not fit)
#   chromium_page_height OUTDIR WIDTH
#                               the page's height in px at WIDTH (scrollHeight)
#   png_size FILE               "WIDTH HEIGHT" from the PNG's IHDR; fails when FILE is no PNG
#   png_stats FILE              "COLOURS INK" of an 8-bit RGB(A) PNG: distinct colours and the
#                               per mille of pixels that differ from the top-left one (the
#                               background): a blank or near-blank shot shows as 1 0
#   chromium_dump OUTDIR        the run's files as "# " comments (for a failing test)
#
# Pitfalls handled: the browser's helpers (zygote, renderer, GPU process) are reparented to
# PID 1 when it exits and may stay zombies for a while, so "is the group gone" looks for live
# members rather than trusting kill -0 or killpg; the browser runs in a session of its own
# (its PID is its process group), and only that group is ever signalled.  A hung page (a
# script that never returns) ends in the timeout, not in a hung test.

CHROMIUM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

chromium_binary() {
  local candidate out
  for candidate in "${CHROMIUM:-}" /usr/lib/chromium/chromium "$(command -v chromium 2>/dev/null)"; do
    if [ -z "$candidate" ] || [ ! -x "$candidate" ]; then continue; fi
    # It must start: a missing library shows here rather than as a render failure.
    if out=$(timeout 20 "$candidate" --version 2>&1); then echo "$candidate"; return 0; fi
    echo "$candidate does not run: $(printf '%s' "$out" | head -1)"
    return 1
  done
  echo "no chromium (apt-get install --no-install-recommends chromium, or set CHROMIUM)"
  return 1
}

# chromium_group_alive PGID: a member of the group is alive (zombies do not count)
# (ps, not pgrep: pgrep counts zombies)
# shellcheck disable=SC2009
chromium_group_alive() {
  ps -o stat= -s "$1" 2>/dev/null | grep -qv '^Z'
}

# chromium_stop_group PGID: SIGTERM then SIGKILL to the browser's group until no member lives
# (only needed when chromium-cdp.py itself was killed before it could do it)
chromium_stop_group() {
  local pgid=$1 sig i
  for sig in TERM KILL; do
    chromium_group_alive "$pgid" || return 0
    kill -"$sig" -- -"$pgid" 2>/dev/null
    for ((i = 0; i < 60; i++)); do chromium_group_alive "$pgid" || return 0; sleep 0.05; done
  done
  echo "# chromium_stop_group: group $pgid survived SIGKILL" >&2
  return 1
}

chromium_render() {
  local html=$1 outdir=$2 height=$3 binary rc pgid limit=${CHROMIUM_TIMEOUT:-60}
  shift 3
  binary=$(chromium_binary) || { echo "# $binary" >&2; return 1; }
  mkdir -p "$outdir" && rm -f "$outdir"/shot-*.png "$outdir"/text-*.txt "$outdir"/layout-*.txt \
    "$outdir"/console.txt "$outdir"/external.txt "$outdir"/dom.html "$outdir"/browser.pid
  case $html in /*) ;; *) html=$PWD/$html ;; esac
  # Step: the driver bounds itself by CHROMIUM_TIMEOUT; timeout(1) is the backstop should it hang.
  CHROMIUM_TIMEOUT=$limit timeout -k 5 $((limit + 15)) \
    python3 "$CHROMIUM_LIB_DIR/chromium-cdp.py" "$binary" "file://$html" "$outdir" "$height" "$@" \
    < /dev/null
  rc=$?
  # Step: whatever happened, no process of the browser's group and no profile outlive the run.
  if [ -s "$outdir/browser.pid" ]; then
    pgid=$(cat "$outdir/browser.pid")
    chromium_stop_group "$pgid" || rc=1
  fi
  rm -rf "$outdir/profile"
  return "$rc"
}

chromium_errors() { grep '^error ' "$1/console.txt" 2>/dev/null || true; }
chromium_external() { cat "$1/external.txt" 2>/dev/null || true; }
chromium_text() { cat "$1/text-$2.txt"; }

chromium_overflows() {
  local viewport scroll
  read -r viewport scroll _ < "$1/layout-$2.txt" || return 1
  [ "$scroll" -gt "$viewport" ]
}

chromium_page_height() {
  local viewport scroll height
  read -r viewport scroll height < "$1/layout-$2.txt" && echo "$height"
}

png_size() {
  python3 - "$1" <<'PY'
import struct, sys
with open(sys.argv[1], "rb") as f:
    head = f.read(24)
if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
    sys.exit(1)
print("%d %d" % struct.unpack(">II", head[16:24]))
PY
}

png_stats() {
  python3 - "$1" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(1)
pos, idat, ihdr = 8, b"", None
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        ihdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
width, height, depth, ctype, _, _, interlace = ihdr
if depth != 8 or ctype not in (2, 6) or interlace:
    sys.exit(1)
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), width * bpp
prev, colours, ink, bg = bytearray(stride), set(), 0, None
for y in range(height):
    ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if ftype == 1: line[i] = (line[i] + a) & 255
        elif ftype == 2: line[i] = (line[i] + b) & 255
        elif ftype == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif ftype == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        px = bytes(line[x:x + bpp])
        if bg is None:
            bg = px
        colours.add(px)
        ink += px != bg
    prev = line
print(len(colours), ink * 1000 // (width * height))
PY
}

chromium_dump() {
  local f
  for f in "$1"/timing.txt "$1"/console.txt "$1"/external.txt "$1"/layout-*.txt; do
    [ -e "$f" ] || continue
    echo "# --- $f"
    sed 's/^/# /' "$f"
  done
  echo "# --- $1/browser.stderr (without the D-Bus noise)"
  grep -v 'dbus' "$1/browser.stderr" 2>/dev/null | tail -20 | sed 's/^/# /'
}
