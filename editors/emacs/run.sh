#!/usr/bin/env bash
# Headless end-to-end test of drain-ls.el in a real Emacs (eglot + flymake).
#   editors/emacs/run.sh            uses `emacs` and the drain-ls of the repo's .venv
#   EMACS=/path/emacs DRAIN_LS=/path/drain-ls editors/emacs/run.sh
#   E2E_EVENTS=/tmp/events.txt editors/emacs/run.sh     also saves the eglot events buffer
# Emacs 30 next to Debian 12's Emacs 28: EMACS=$(editors/emacs/test/get-emacs30.sh) editors/emacs/run.sh
# Needs Emacs 29+, or Emacs 28 with eglot (Debian: apt-get install emacs-nox elpa-eglot).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
emacs="${EMACS:-emacs}"
drain_ls="${DRAIN_LS:-$repo/.venv/bin/drain-ls}"

command -v "$emacs" >/dev/null || { echo "no $emacs: apt-get install emacs-nox (and elpa-eglot on Emacs 28)" >&2; exit 2; }
[ -x "$drain_ls" ] || { echo "no drain-ls at $drain_ls (pip install -e . in .venv, or set DRAIN_LS)" >&2; exit 2; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home" "$tmp/drain-ls" "$tmp/bin"
ln -s "$drain_ls" "$tmp/bin/drain-ls"

# A throw-away HOME (so user-emacs-directory and any init file are fresh), drain-ls on PATH as
# the snippet expects, and drain-ls's ledger in the temporary directory.
HOME="$tmp/home" PATH="$tmp/bin:$PATH" DRAIN_LS_HOME="$tmp/drain-ls" \
  timeout 180 "$emacs" --batch -l "$here/test/e2e.el" </dev/null
