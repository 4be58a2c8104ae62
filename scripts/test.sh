#!/usr/bin/env bash
# The whole test suite: TypeScript (build, type-check, mocha unit tests), Python (pytest), and the extension
# inside a real VS Code (offline code-server + Chromium). Needs scripts/setup.sh to have run once.
set -euo pipefail
cd "$(dirname "$0")/.."
export ORT_DISABLE_TELEMETRY=1
# Where set-up installed the software Vulkan device, the WebGPU tests must run (a missing adapter fails them instead
# of skipping). Dawn wants a runtime dir.
if ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then export SKIPGPT_REQUIRE_WEBGPU=1; fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
echo "== TypeScript: build, typecheck, unit tests"
npm test
echo "== Python: pytest"
(cd training && ../.venv/bin/python -m pytest -q)
echo "== VS Code extension host (offline)"
bash test/e2e/run.sh
