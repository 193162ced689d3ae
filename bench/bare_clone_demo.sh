#!/usr/bin/env bash
# Times the README's demo command as a new user meets it: a clone of this repository in an
# empty temporary folder (nothing beside it, no .venv, no target/), pip's cache off so that
# PyTorch is downloaded. Prints every output line with the seconds since the start, then
# the total; BENCHMARKS.md quotes the phases from this output.
#   bash bench/bare_clone_demo.sh [SPEC]      (default: the demo's sweeps/feiniao.yaml)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
git clone --quiet "$repo" "$dir/sweep"
cd "$dir/sweep"
args=(demo)
[ $# -gt 0 ] && args+=(--spec "$1")
start=$(date +%s)
PIP_NO_CACHE_DIR=1 cargo xtask "${args[@]}" 2>&1 | while IFS= read -r line; do echo "$(( $(date +%s) - start )) $line"; done
echo "total $(( $(date +%s) - start )) s (clone left in $dir; remove it when done)"
