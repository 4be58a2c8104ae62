#!/bin/bash
# Runs the extension's suite (test/e2e/suite) inside a REAL VS Code extension host, offline: the bare VS Code server
# from code-server (installed by test/e2e/setup.sh into .vscode-e2e/) plus headless Debian Chromium driven by
# playwright-core (test/e2e/driver.js). Prints the suite's `N passed, N failed` line; exit code 0 only if all passed.
# Screenshots go to test-artifacts/. Env: E2E_DIR, E2E_PORT, TEST_TIMEOUT_MS, SKIPGPT_E2E_GREP (mocha grep),
# SKIPGPT_E2E_EXTENSION (an unpacked VSIX's extension/ folder to test instead of the working tree). For other runs in
# the same harness (scripts/bench/keystroke.mjs): SKIPGPT_E2E_TESTS (the extensionTestsPath module),
# SKIPGPT_E2E_SETTINGS (the skipgpt.* user settings as JSON members), SKIPGPT_E2E_COPY (a file put into the workspace),
# SKIPGPT_E2E_NICE (niceness of server and driver, default 10: a benchmark runs them at 0 like a user's editor).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
E2E_DIR="${E2E_DIR:-$ROOT/.vscode-e2e}"
SERVER="$E2E_DIR/node_modules/code-server/lib/vscode/out/server-main.js"
[ -f "$SERVER" ] || { echo "run.sh: VS Code server missing ($SERVER); run test/e2e/setup.sh first"; exit 2; }
command -v chromium >/dev/null || { echo "run.sh: chromium missing; run test/e2e/setup.sh first"; exit 2; }
[ "${SKIPGPT_E2E_NO_BUILD:-}" = 1 ] || nice -n 10 node scripts/build.mjs >/dev/null || { echo "run.sh: build failed"; exit 1; }

PORT="${E2E_PORT:-$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')}"
mkdir -p "$E2E_DIR/state" test-artifacts
STATE="$(mktemp -d "$E2E_DIR/state/s.XXXX")"
# Short TMPDIR: VS Code and Chromium put unix sockets there (paths over ~107 characters crash Chromium).
TMPD="$(mktemp -d /tmp/sg-e2e.XXXX)"
WS="$STATE/workspace"; mkdir -p "$WS" "$STATE"/{home,user-data/User,extensions,server-data}
cp -r test/e2e/workspace/. "$WS/"            # the suite edits files: never the repository's copies
[ -z "${SKIPGPT_E2E_COPY:-}" ] || cp "$SKIPGPT_E2E_COPY" "$WS/"
SKIPGPT_SETTINGS="${SKIPGPT_E2E_SETTINGS:-\"skipgpt.modelFolder\": \"$ROOT/test/fixtures/tiny\", \"skipgpt.debounceMs\": 30}"
# No workspace trust prompt, no auto-save (tests edit files), no telemetry; the tiny fixture model; short debounce.
cat > "$STATE/user-data/User/settings.json" <<JSON
{ "security.workspace.trust.enabled": false, "workbench.startupEditor": "none", "chat.disableAIFeatures": true,
  "telemetry.telemetryLevel": "off", "files.autoSave": "off", "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false, "editor.inlineSuggest.enabled": true, "workbench.tips.enabled": false,
  "git.enabled": false, "git.openRepositoryInParentFolders": "never",
  "editor.quickSuggestions": { "other": false, "comments": false, "strings": false }, "editor.suggestOnTriggerCharacters": false,
  $SKIPGPT_SETTINGS }
JSON
export ORT_DISABLE_TELEMETRY=1 SKIPGPT_E2E_ARTIFACTS="$ROOT/test-artifacts" SKIPGPT_E2E_ROOT="$ROOT"
export SKIPGPT_E2E_GREP="${SKIPGPT_E2E_GREP:-}"
(
  export TMPDIR="$TMPD" HOME="$STATE/home" XDG_CONFIG_HOME="$STATE/home/.config" XDG_DATA_HOME="$STATE/home/.local/share" XDG_CACHE_HOME="$STATE/home/.cache"
  exec setsid nice -n "${SKIPGPT_E2E_NICE:-10}" node "$SERVER" --host 127.0.0.1 --port "$PORT" --without-connection-token --accept-server-license-terms \
    --telemetry-level off --enable-smoke-test-driver --server-data-dir "$STATE/server-data" --user-data-dir "$STATE/user-data" \
    --extensions-dir "$STATE/extensions" > "$STATE/vscode-server.log" 2>&1
) &
SPID=$!
cleanup() { kill -- -"$SPID" 2>/dev/null; sleep 1; kill -9 -- -"$SPID" 2>/dev/null; rm -rf "$TMPD"; }
trap cleanup EXIT
for _ in $(seq 1 240); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null && break; sleep 0.25; done
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/" || { echo "run.sh: VS Code server did not come up"; cat "$STATE/vscode-server.log"; exit 1; }
echo "run.sh: VS Code server (pid $SPID) on :$PORT, state $STATE"
TMPDIR="$TMPD" NODE_PATH="$E2E_DIR/node_modules" TEST_TIMEOUT_MS="${TEST_TIMEOUT_MS:-600000}" \
  nice -n "${SKIPGPT_E2E_NICE:-10}" node test/e2e/driver.js "http://127.0.0.1:$PORT" "${SKIPGPT_E2E_EXTENSION:-$ROOT}" "${SKIPGPT_E2E_TESTS:-$ROOT/out/test/e2e/suite/index.js}" "$WS" "$ROOT/test-artifacts"
rc=$?
if [ $rc -ne 0 ]; then
  echo "--- server log (tail), state kept in $STATE"; tail -30 "$STATE/vscode-server.log"
  find "$STATE/user-data/logs" -name 'remoteexthost.log' -exec tail -40 {} \; 2>/dev/null
else
  rm -rf "$STATE"
fi
exit $rc
