# Sourced by the other scripts: where the project's tools live.
# shellcheck shell=bash

CANVAS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Tools built once per machine (cargo-leptos, wasm-bindgen) are kept outside
# the checkout so a fresh clone reuses them.
CANVAS_TOOLS="${CANVAS_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/canvas-tools}"
export CANVAS_ROOT CANVAS_TOOLS
export PATH="$CANVAS_TOOLS/bin:$CANVAS_ROOT/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
