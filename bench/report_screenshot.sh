#!/usr/bin/env bash
# The README's picture of the HTML report: runs the feiniao demo sweep (skipping finished
# runs) and photographs runs/feiniao/index.html with headless Chromium into
# docs/feiniao-report.png. Needs chromium (tests/browser/ensure-chromium installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo xtask sweep sweeps/feiniao.yaml >/dev/null
browser=$(bash tests/browser/ensure-chromium)
mkdir -p docs
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,3000 \
  --screenshot="$PWD/docs/feiniao-report.png" "file://$PWD/runs/feiniao/index.html" 2>/dev/null
echo "docs/feiniao-report.png"
