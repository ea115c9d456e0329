#!/bin/bash
# chromium-smoke.sh - proves t/lib/chromium-headless.sh, the harness that issue 13's
# `dmarcwatch report --html` tests render their page with (make check).
#
# Self-contained pages written here (inline CSS and SVG, nothing fetched) are rendered in
# headless Chromium at 1280 and 400 px wide, and the harness must tell:
#   good.html      no console error, no external request; the numbers of its table and chart
#                  in the text shown at both widths; its media query visible (a label that only
#                  the narrow layout shows); no horizontal overflow; two PNGs of 1280 x 900 and
#                  400 x 900 (read from the IHDR) that differ and are not blank (png_stats);
#                  with CHROMIUM_FULL_PAGE=1 and a 300 px viewport, a PNG of the whole page
#   blank.html     an empty page: png_stats says so (one colour, no ink)
#   bad.html       an injected console.error, an uncaught exception and an alert(): all three
#                  reported (so the "no console errors" check can fail), the dialog dismissed,
#                  a console.log not taken for an error
#   external.html  an image, a script, a stylesheet and a fetch() from outside: each listed as
#                  external, each refused (nothing leaves the machine)
#   csp.html       a Content-Security-Policy meta that forbids the load: the violation is an error
#   hang.html      a script that never returns: the run ends within CHROMIUM_TIMEOUT, and what
#                  it logged before is kept
# After every run no process of the browser's group is alive and its profile is gone.
# KEEP=1 keeps the pages, screenshots and logs.
# Prints TAP-ish lines and "N passed, M failed".  Exit 77 (skip) without chromium (Debian's
# package: apt-get install --no-install-recommends chromium) or python3.  Processes: only the
# browser groups this script starts, by their PIDs.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$SRCDIR/t/lib/common.sh"
. "$SRCDIR/t/lib/chromium-headless.sh"

command -v python3 > /dev/null || { echo "# no python3: skipped"; exit 77; }
why=$(chromium_binary) || { echo "# $why: skipped"; exit 77; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/chromium-smoke.XXXXXX")
# KEEP=1 keeps TMP (the screenshots) for a look.
cleanup() {
  local p
  for p in "$TMP"/*/browser.pid; do [ -s "$p" ] && chromium_stop_group "$(cat "$p")"; done
  if [ -n "${KEEP:-}" ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# Step: the pages.  good.html has the shape of a report: a summary table, an SVG bar chart,
# two columns that become one below 600 px.
cat > "$TMP/good.html" <<'EOF'
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dmarcwatch report: example.com</title>
<style>
  body { font-family: sans-serif; margin: 0; padding: 16px; color: #222; }
  .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
  .card { border: 1px solid #ccc; border-radius: 6px; padding: 12px; background: #f6f8fa; }
  .narrow-only { display: none; }
  table { border-collapse: collapse; width: 100%; }
  td, th { border-bottom: 1px solid #ddd; padding: 4px; text-align: right; }
  td:first-child, th:first-child { text-align: left; }
  svg { width: 100%; height: auto; }
  @media (max-width: 600px) {
    .grid { grid-template-columns: 1fr; }
    .wide-only { display: none; }
    .narrow-only { display: block; }
    body { background: #fffbe6; }
  }
</style></head>
<body>
<h1>example.com</h1>
<p class="wide-only">Layout: two columns</p>
<p class="narrow-only">Layout: one column</p>
<div class="grid">
  <div class="card">
    <table>
      <tr><th>Service</th><th>Messages</th><th>DMARC pass</th></tr>
      <tr><td>SendGrid</td><td>12,345</td><td>97.3 %</td></tr>
      <tr><td>Zendesk</td><td>678</td><td>41.0 %</td></tr>
      <tr><td>Unknown</td><td>90</td><td>0.0 %</td></tr>
    </table>
    <p>Readiness: blocked by: Zendesk</p>
  </div>
  <div class="card">
    <svg viewBox="0 0 300 120" role="img" aria-label="messages per service">
      <rect x="10" y="10" width="270" height="25" fill="#2b7"/>
      <rect x="10" y="45" width="60" height="25" fill="#e93"/>
      <rect x="10" y="80" width="8" height="25" fill="#c33"/>
      <text x="15" y="28" font-size="12">12345</text>
      <text x="75" y="63" font-size="12">678</text>
      <text x="25" y="98" font-size="12">90</text>
    </svg>
  </div>
</div>
<script>document.getElementById || console.error("no DOM");</script>
</body></html>
EOF
cat > "$TMP/bad.html" <<'EOF'
<!DOCTYPE html><html><head><meta charset="utf-8"><title>bad</title></head>
<body><p>Total 42</p>
<script>console.log("just a log line"); console.error("injected failure 7");</script>
<script>setTimeout(function () { undefinedFunctionOfTheReport(); }, 0);</script>
<script>alert("a dialog");</script>
</body></html>
EOF
cat > "$TMP/external.html" <<'EOF'
<!DOCTYPE html><html><head><meta charset="utf-8"><title>external</title>
<link rel="stylesheet" href="https://fonts.example.invalid/report.css">
<script src="http://cdn.example.invalid/chart.js"></script></head>
<body><p>Total 42</p><img src="https://img.example.invalid/logo.png" alt="">
<script>window.addEventListener("load", function () { fetch("https://api.example.invalid/data.json").catch(function () {}); });</script>
</body></html>
EOF
cat > "$TMP/csp.html" <<'EOF'
<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>csp</title></head>
<body><p>Total 42</p><img src="https://img.example.invalid/logo.png" alt=""></body></html>
EOF
cat > "$TMP/blank.html" <<'EOF'
<!DOCTYPE html><html><head><meta charset="utf-8"><title>blank</title></head><body></body></html>
EOF
cat > "$TMP/hang.html" <<'EOF'
<!DOCTYPE html><html><head><meta charset="utf-8"><title>hang</title></head>
<body><script>console.log("about to hang"); for (;;) {}</script></body></html>
EOF

# group_gone DIR: the run's browser group has no live member and its profile is gone
group_gone() {
  [ -s "$1/browser.pid" ] && ! chromium_group_alive "$(cat "$1/browser.pid")" && [ ! -e "$1/profile" ]
}

fits() { ! chromium_overflows "$TMP/good" "$1"; }
one_column() { grep -q "Layout: one column" "$TMP/good/text-400.txt" && ! grep -q "Layout: two columns" "$TMP/good/text-400.txt"; }
shots_differ() { ! cmp -s "$TMP/good/shot-1280.png" "$TMP/good/shot-400.png"; }
log_not_error() { ! grep -q "just a log line" <<< "$errors" && grep -q "^log console just a log line$" "$TMP/bad/console.txt"; }

# Step: good.html at both widths.
start=$(now_ms)
if chromium_render "$TMP/good.html" "$TMP/good" 900 1280 400; then
  pass "good.html rendered ($(($(now_ms) - start)) ms in all; $(cat "$TMP/good/timing.txt"))"
else
  fail "good.html rendered"
  chromium_dump "$TMP/good"
fi
errors=$(chromium_errors "$TMP/good")
check "good.html: no console errors${errors:+: $errors}" [ -z "$errors" ]
external=$(chromium_external "$TMP/good")
check "good.html: nothing external${external:+: $external}" [ -z "$external" ]
for w in 1280 400; do
  for number in 12,345 678 "97.3 %" "41.0 %" "blocked by: Zendesk"; do
    check "good.html at $w px shows \"$number\"" grep -qF "$number" "$TMP/good/text-$w.txt"
  done
  check "good.html at $w px fits the width (layout $(cat "$TMP/good/layout-$w.txt"))" \
    fits "$w"
  got=$(png_size "$TMP/good/shot-$w.png")
  check "shot-$w.png is a PNG of $w x 900 (got ${got:-no PNG})" [ "$got" = "$w 900" ]
done
check "good.html: the SVG's numbers are in the DOM" grep -q '<text[^>]*>12345</text>' "$TMP/good/dom.html"
check "good.html at 1280 px is two columns" grep -q 'Layout: two columns' "$TMP/good/text-1280.txt"
check "good.html at 400 px is one column" one_column
check "the screenshots differ" shots_differ
for w in 1280 400; do
  read -r colours ink <<< "$(png_stats "$TMP/good/shot-$w.png")"
  check "shot-$w.png is not blank ($colours colours, $ink per mille ink)" all [ "${colours:-0}" -gt 20 ] -- [ "${ink:-0}" -gt 50 ]
done
check "good.html: no browser process left, profile removed" group_gone "$TMP/good"

# Step: the whole page: at 400 px wide it is taller than a 300 px viewport, and the PNG is
# all of it; a blank page shows as blank.
CHROMIUM_FULL_PAGE=1 chromium_render "$TMP/good.html" "$TMP/full" 300 400 || { fail "good.html rendered whole"; chromium_dump "$TMP/full"; }
height=$(chromium_page_height "$TMP/full" 400)
got=$(png_size "$TMP/full/shot-400.png")
check "full page: the PNG is the page, 400 x $height (got ${got:-no PNG})" all [ "${height:-0}" -gt 300 ] -- [ "$got" = "400 $height" ]
chromium_render "$TMP/blank.html" "$TMP/blank" 600 400 || { fail "blank.html rendered"; chromium_dump "$TMP/blank"; }
check "blank.html: png_stats calls it blank ($(png_stats "$TMP/blank/shot-400.png"))" [ "$(png_stats "$TMP/blank/shot-400.png")" = "1 0" ]

# Step: bad.html: the check can fail.
chromium_render "$TMP/bad.html" "$TMP/bad" 600 800 || { fail "bad.html rendered"; chromium_dump "$TMP/bad"; }
errors=$(chromium_errors "$TMP/bad")
check "bad.html: console.error reported" grep -q '^error console injected failure 7$' <<< "$errors"
check "bad.html: uncaught exception reported" grep -q '^error exception ReferenceError: undefinedFunctionOfTheReport' <<< "$errors"
check "bad.html: console.log is not an error" log_not_error
check "bad.html: the alert() reported, and dismissed" grep -q '^error dialog alert a dialog$' <<< "$errors"
check "bad.html: its text is read too" grep -q 'Total 42' "$TMP/bad/text-800.txt"
check "bad.html: no browser process left" group_gone "$TMP/bad"

# Step: external.html: every outside load listed and refused.
chromium_render "$TMP/external.html" "$TMP/external" 600 800 || { fail "external.html rendered"; chromium_dump "$TMP/external"; }
external=$(chromium_external "$TMP/external")
for url in https://fonts.example.invalid/report.css http://cdn.example.invalid/chart.js \
           https://img.example.invalid/logo.png https://api.example.invalid/data.json; do
  check "external.html: $url detected" grep -qxF "$url" <<< "$external"
done
check "external.html: the refused loads are errors too" grep -q 'ERR_BLOCKED_BY_CLIENT' <<< "$(chromium_errors "$TMP/external")"
check "external.html: no browser process left" group_gone "$TMP/external"

# Step: csp.html: a CSP that forbids the load stops it before any request; the violation is an error.
chromium_render "$TMP/csp.html" "$TMP/csp" 600 800 || { fail "csp.html rendered"; chromium_dump "$TMP/csp"; }
check "csp.html: the CSP violation is an error" grep -q "Content Security Policy" <<< "$(chromium_errors "$TMP/csp")"
check "csp.html: no browser process left" group_gone "$TMP/csp"

# Step: hang.html: the timeout ends the run and the browser.
start=$(now_ms)
CHROMIUM_TIMEOUT=8 chromium_render "$TMP/hang.html" "$TMP/hang" 600 800 2> "$TMP/hang.err"
rc=$?
took=$(($(now_ms) - start))
check "hang.html: the run fails (status $rc, $(head -1 "$TMP/hang.err"))" [ "$rc" -ne 0 ]
check "hang.html: within the timeout ($took ms)" [ "$took" -lt 20000 ]
check "hang.html: what it logged before hanging is kept" grep -q '^log console about to hang$' "$TMP/hang/console.txt"
check "hang.html: no browser process left, profile removed" group_gone "$TMP/hang"

summary
