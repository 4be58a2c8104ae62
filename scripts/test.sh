#!/usr/bin/env bash
# The whole test suite: TypeScript (build, type-check, mocha unit tests), Python (pytest), and the extension
# inside a real VS Code (offline code-server + Chromium). Needs scripts/setup.sh to have run once.
set -euo pipefail
cd "$(dirname "$0")/.."
export ORT_DISABLE_TELEMETRY=1
echo "== TypeScript: build, typecheck, unit tests"
npm test
echo "== Python: pytest"
(cd training && ../.venv/bin/python -m pytest -q)
echo "== VS Code extension host (offline)"
bash test/e2e/run.sh
