#!/usr/bin/env bash
# Headless end-to-end test of languages.toml in a real Helix, driven through tmux.
#   editors/helix/test.sh                  uses `hx`, the repo's .venv drain-ls, and pyright
#   HX=/path/hx DRAIN_LS=/path/drain-ls PYRIGHT=/path/pyright-langserver editors/helix/test.sh
# No Helix on Debian bookworm: `HX=$(editors/helix/get-hx.sh)` unpacks trixie's (25.01.1),
# `HX=$(HX_SUITE=sid editors/helix/get-hx.sh)` sid's (25.07.1).  Without
# pyright-langserver on PATH (or PYRIGHT), pyright is installed with npm in a temporary folder.
# Needs tmux.  Copies languages.toml unchanged into a throw-away HOME, then checks:
#   1. `hx --health python` finds drain-ls (and pyright);
#   2. the settings reach drain-ls (initializationOptions and workspace/configuration);
#   3. F401 on line 1 and D103 on line 5 are shown, and listed by the diagnostics picker;
#   4. "Remove unused import `os`" from the code-action menu (space a) removes the import;
#   5. after the idle delay, the offline LLM drain's "Insert generated docstring" is offered
#      for `main` and inserts a docstring.
# Exits 0 when all pass, 1 otherwise.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
hx="${HX:-hx}"
drain_ls="${DRAIN_LS:-$repo/.venv/bin/drain-ls}"
pyright_version=1.1.414
started=$SECONDS
failures=0

command -v "$hx" >/dev/null || { echo "no Helix ($hx): HX=\$(editors/helix/get-hx.sh) $0" >&2; exit 2; }
command -v tmux >/dev/null || { echo "no tmux: apt-get install tmux" >&2; exit 2; }
[ -x "$drain_ls" ] || { echo "no drain-ls at $drain_ls (pip install -e . in .venv, or set DRAIN_LS)" >&2; exit 2; }

tmp="$(mktemp -d)"
sock="drain-ls-hx-$$"
cleanup() { tmux -L "$sock" kill-server 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
mkdir -p "$tmp/home/.config/helix" "$tmp/bin" "$tmp/project" "$tmp/drain-ls"
cp "$here/languages.toml" "$tmp/home/.config/helix/languages.toml"
# Helix 25.07's defaults for showing diagnostics, spelled out so that 25.01 draws them alike.
printf '[editor]\nend-of-line-diagnostics = "hint"\n[editor.inline-diagnostics]\ncursor-line = "warning"\n' \
  >"$tmp/home/.config/helix/config.toml"
ln -s "$drain_ls" "$tmp/bin/drain-ls"
pyright="${PYRIGHT:-$(command -v pyright-langserver || true)}"
if [ -z "$pyright" ]; then
  npm install --silent --no-audit --no-fund --prefix "$tmp/npm" "pyright@$pyright_version" >&2 \
    || { echo "cannot install pyright with npm" >&2; exit 2; }
  pyright="$tmp/npm/node_modules/.bin/pyright-langserver"
fi
ln -s "$pyright" "$tmp/bin/pyright-langserver"
export HOME="$tmp/home" PATH="$tmp/bin:$PATH" DRAIN_LS_HOME="$tmp/drain-ls"
unset XDG_CONFIG_HOME XDG_CACHE_HOME XDG_DATA_HOME

cd "$tmp/project"
printf '[project]\nname = "sample"\n' >pyproject.toml
printf 'import os\nimport sys\n\n\ndef main():\n    print(sys.argv)\n' >sample.py
log="$tmp/helix.log"

say() { printf '[%3ds] %s\n' $((SECONDS - started)) "$*"; }
check() {  # check DESCRIPTION COMMAND...
  local what="$1"; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}
plain() { sed 's/\x1b\[[0-9;]*m//g'; }
tx() { tmux -L "$sock" "$@"; }
screen() { tx capture-pane -p -t hx; }
keys() { tx send-keys -t hx "$@"; sleep 0.3; }
wait_screen() {  # wait_screen TEXT SECONDS: until the screen shows TEXT
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    screen | grep -qF -- "$1" && return 0
    sleep 0.1
  done
  say "timed out after $2s waiting for: $1"; screen; return 1
}
pick() {  # pick TITLE: in an open menu, move to the entry TITLE and take it
  local i
  for ((i = 0; i < 12; i++)); do
    # The selected entry is drawn in reverse video (SGR 7) just before its title.
    if tx capture-pane -p -e -t hx | grep -F -- "$1" | grep -q $'\x1b\\[7m'; then
      keys Enter; return 0
    fi
    keys Down
  done
  say "no menu entry: $1"; screen; return 1
}
# log_check PYTHON-EXPRESSION: evaluated over the drain-ls traffic in Helix's log, as
# `sent` (client -> drain-ls) and `got` (drain-ls -> client), lists of JSON messages.
log_check() {
  python3 - "$log" "$1" <<'EOF'
import json, sys
sent, got = [], []
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    for arrow, into in ((" drain-ls -> ", sent), (" drain-ls <- ", got)):
        if arrow in line:
            try:
                into.append(json.loads(line.split(arrow, 1)[1]))
            except ValueError:
                pass
def diagnostics():
    """(code, 1-based line) of the last full diagnostic report or publish from drain-ls."""
    found = None
    for m in got:
        result = m.get("result")
        if isinstance(result, dict) and result.get("kind") == "full":
            found = result["items"]
        elif m.get("method") == "textDocument/publishDiagnostics":
            found = m["params"]["diagnostics"]
    return sorted((d["code"], d["range"]["start"]["line"] + 1) for d in found or [])
settings = [m["params"]["message"] for m in got
            if m.get("method") == "window/logMessage" and m["params"]["message"].startswith("settings: ")]
ok = eval(sys.argv[2])
if not ok:
    print("    diagnostics:", diagnostics(), "settings:", settings[-1:] )
sys.exit(0 if ok else 1)
EOF
}

pyright_pkg="$(dirname "$(readlink -f "$pyright")")/package.json"
say "$("$hx" --version), pyright $(sed -n 's/^ *"version": "\(.*\)",$/\1/p' "$pyright_pkg" 2>/dev/null), $(tmux -V)"

# 1. hx --health
health="$("$hx" --health python 2>&1 | plain)"
echo "$health" | sed -n '1,3p'
check "hx --health python finds drain-ls" grep -qE "✓ drain-ls: .*/drain-ls" <<<"$health"
check "hx --health python finds pyright" grep -qE "✓ pyright(-langserver)?: " <<<"$health"
check "Helix reads our languages.toml" grep -qF "$HOME/.config/helix/languages.toml" \
  <<<"$("$hx" --health 2>&1 | plain)"

# 2.-3. Open the file; diagnostics on screen, in the picker, and in the protocol log.
tx new-session -d -s hx -x 120 -y 30 "$hx -v --log '$log' sample.py"
wait_screen '`os` imported but unused' 20
wait_screen 'Missing docstring in public function' 10
wait_screen '"os" is not accessed' 20  # pyright's hint: both servers are running
screen | sed -n '1,7p'
# row_of TEXT: the first screen row showing TEXT
row_of() { screen | grep -nF -- "$1" | head -1 | cut -d: -f1; }
near() { [ -n "$1" ] && [ -n "$2" ] && [ "$2" -ge "$1" ] && [ "$2" -le $(($1 + $3)) ]; }
check "F401 shown under line 1" near "$(row_of '1  import os')" "$(row_of '`os` imported but unused')" 3
check "D103 shown on line 5" near "$(row_of '5  def main():')" "$(row_of 'Missing docstring in public function')" 0
check "settings: initializationOptions has the drainLs object" log_check \
  'any(m.get("method") == "initialize" and m["params"].get("initializationOptions", {}).get("drainLs", {}).get("llm") == {"enabled": True, "backend": "offline"} for m in sent)'
check "settings: workspace/configuration answers the drainLs section" log_check \
  'any(isinstance(m.get("result"), list) and m["result"] and isinstance(m["result"][0], dict) and m["result"][0].get("diagnostics") == {"debounceMs": 100} for m in sent)'
check "settings in force in drain-ls: llm offline on, debounceMs 100" log_check \
  'settings and "'"'enabled': True, 'backend': 'offline'"'" in settings[-1] and "'"'debounceMs': 100"'" in settings[-1]'
check "drain-ls reports F401 on line 1, D103 on line 5" log_check \
  '("F401", 1) in diagnostics() and ("D103", 5) in diagnostics() and ("F401", 2) not in diagnostics()'
keys Space d
wait_screen 'severity ' 5
picker="$(screen)"
keys Escape
# (Helix 25.01's picker has no source column.)
check "picker lists drain-ls F401" grep -qE 'WARN +(drain-ls +)?F401 +`os` imported but unused' <<<"$picker"
check "picker lists drain-ls D103" grep -qE 'WARN +(drain-ls +)?D103 +Missing docstring in public fun' <<<"$picker"
check "picker lists pyright's diagnostic too" grep -qE 'HINT +(Pyright +)?"os" is not accessed' <<<"$picker"

# 4. The quick fix, from the code-action menu with the cursor on `os`.
keys / o s Enter
keys Space a
wait_screen 'Remove unused import `os`' 10 && pick 'Remove unused import `os`'
keys : w Enter
wait_screen "'sample.py' written" 5
check "the import of os is gone" test "$(cat sample.py)" = "$(printf 'import sys\n\n\ndef main():\n    print(sys.argv)')"
sleep 1
check "F401 no longer shown" bash -c "! tmux -L '$sock' capture-pane -p -t hx | grep -qF 'imported but unused'"

# 5. The LLM drains (offline backend) run when the editor is idle: the generated docstring.
keys / m a i n Enter
found=0
for ((i = 0; i < 15; i++)); do
  keys Space a
  if wait_screen 'Insert generated docstring' 1 >/dev/null; then found=1; break; fi
  keys Escape
  sleep 0.7
done
check "drain result offered: Insert generated docstring" test "$found" = 1
if [ "$found" = 1 ]; then
  pick 'Insert generated docstring'
  keys : w Enter
  wait_screen "'sample.py' written" 5
fi
check "docstring inserted" grep -qE '^    """.+"""$' sample.py
sed -n '1,6p' sample.py | sed 's/^/    | /'
sleep 1
check "D103 no longer shown" bash -c "! tmux -L '$sock' capture-pane -p -t hx | grep -qF 'docstring in public function'"

keys : q '!' Enter
echo "$failures checks failed, $((SECONDS - started))s"
[ "$failures" = 0 ]
