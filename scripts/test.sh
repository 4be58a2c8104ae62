#!/usr/bin/env bash
# The whole test suite: TypeScript (build, type-check, mocha unit tests), Python (pytest), and the packaged
# extension (the VSIX, unpacked) inside a real VS Code (offline code-server + Chromium). Needs scripts/setup.sh to
# have run once.
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
echo "== VSIX: package it, unpack it, and run the extension host suite (offline) against what users install"
npm run package --silent >/dev/null
VSIX_DIR="$(mktemp -d)"
trap 'rm -rf "$VSIX_DIR"' EXIT
unzip -q skipgpt-linux-x64.vsix -d "$VSIX_DIR"
for f in dist/extension.js dist/engine-process.js dist/engine-probe.js node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1; do
  [ -f "$VSIX_DIR/extension/$f" ] || { echo "VSIX lacks extension/$f"; exit 1; }
done
echo "VSIX: $(du -m skipgpt-linux-x64.vsix | cut -f1) MB, $(unzip -l skipgpt-linux-x64.vsix | tail -1 | awk '{print $2}') files"
SKIPGPT_E2E_NO_BUILD=1 SKIPGPT_E2E_EXTENSION="$VSIX_DIR/extension" bash test/e2e/run.sh
