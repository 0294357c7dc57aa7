#!/bin/sh
# The README's picture of a real report: a run's report.html rendered to a PNG by headless
# Chromium, so that the picture is made from a lab run, never drawn by hand.
#
#   sh scripts/report-picture.sh [RUN_FOLDER] [OUT.png]
#
# RUN_FOLDER defaults to the newest runs/*/ holding a report.html (make one, as root, with
# `.venv/bin/python -m netlab up -s kind-local --quick`, about a minute); OUT defaults to
# docs/report.png. WIDTH and HEIGHT (pixels) set the window; the page is cut at HEIGHT.
set -eu
here=$(pwd)
cd "$(dirname "$0")/.."
run=${1:-}
case $run in "" | /*) ;; *) run="$here/$run" ;; esac
if [ -z "$run" ]; then
    run=$(ls -1dt runs/*/ 2>/dev/null | while read -r d; do [ -f "$d/report.html" ] && echo "$d" && break; done || true)
fi
out=${2:-docs/report.png}
[ -z "${2:-}" ] || case $out in /*) ;; *) out="$here/$out" ;; esac
if [ -z "$run" ] || [ ! -f "$run/report.html" ]; then
    echo "report-picture: no report.html in ${run:-runs/*/} (run: .venv/bin/python -m netlab up -s kind-local --quick)" >&2
    exit 2
fi
command -v chromium >/dev/null || { echo "report-picture: chromium is not installed (scripts/install.sh installs it)" >&2; exit 2; }
page="file://$(cd "$run" && pwd)/report.html"
case $out in /*) ;; *) out="$(pwd)/$out" ;; esac
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
echo "report-picture: $page -> $out"
# The page is self-contained (no network): Chromium's own background traffic is switched off too.
timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$profile" --screenshot="$out" \
    --window-size="${WIDTH:-1100},${HEIGHT:-1400}" "$page" >/dev/null 2>&1
[ -s "$out" ] || { echo "report-picture: chromium wrote no $out" >&2; exit 1; }
echo "report-picture: wrote $out ($(wc -c <"$out") bytes)"
