#!/usr/bin/env bash
# Dense vs routed decode speed on WebGPU (and CPU on the same box, for reference), for a machine with a GPU.
# Not run on a real GPU yet (no GPU machine was lent to a session so far; it runs on Mesa's software Vulkan device
# here, which checks it works, not its speed). Prepared so that a GPU check is one command:
#   bash scripts/bench/gpu-webgpu.sh [OUT_DIR]
# Needs on the GPU machine: node >= 20 on PATH, the repo with node_modules/onnxruntime-node (linux-x64 binaries)
# and a built out/ (`npm run build` here, then carry out/), the Vulkan loader (libvulkan.so.1) for Dawn, and a
# Python with torch + transformers + onnx (the exporter) to make a SmolLM2-135M-shaped random-weight model there
# (the 540 MB fp32 model is too big to carry; speed does not depend on the weights).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-/tmp/skipgpt-gpu-bench}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export ORT_DISABLE_TELEMETRY=1

command -v node >/dev/null || { echo "node not found on PATH (carry a Node 20 binary)"; exit 2; }
[ -f out/extension/engine/runner.js ] || { echo "out/ missing: run npm run build before copying the repo"; exit 2; }
ldconfig -p 2>/dev/null | grep -q libvulkan.so.1 || [ -n "${LD_LIBRARY_PATH:-}" ] ||
  echo "warning: libvulkan.so.1 not in ldconfig; WebGPU (Dawn) will fail unless LD_LIBRARY_PATH points at it"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

MODEL="$OUT/rand-smollm2"
if [ ! -f "$MODEL/manifest.json" ]; then
  "$PY" -c "import torch, transformers, onnx" 2>/dev/null ||
    { echo "python needs torch, transformers and onnx to export the random model"; exit 2; }
  "$PY" scripts/bench/make_random_routed_model.py "$MODEL" --random-base 2>&1 | tail -3
fi

# Parity first: auto's probe (dense, default and all-skipped thresholds; greedy tokens and top logits) on the GPU
# graph (model.gpu.onnx, skip mode if) vs the CPU graph (model.onnx, gather), as the extension's `auto` compares them.
MODEL="$MODEL" node -e '
const { ModelRunner } = require("./out/extension/engine/runner");
const { probe, parityProblem } = require("./out/extension/engine/probe");
(async () => {
  const cpu = await ModelRunner.loadOn(process.env.MODEL, "cpu"), gpu = await ModelRunner.loadOn(process.env.MODEL, "webgpu");
  const a = await probe(cpu, cpu.loadMs), b = await probe(gpu, gpu.loadMs);
  console.log(`parity webgpu vs cpu: ${parityProblem(a, b) ?? "ok"}; decode step ms: cpu ${a.stepMs.toFixed(2)}, webgpu ${b.stepMs.toFixed(2)}`);
})().catch((e) => { console.log("parity check failed:", e.message); process.exitCode = 1; });' 2>&1 | grep -v '^Warning' | tee "$OUT/parity.txt"

# Thresholds: 0 = dense, 0.5/0.6 = mixed skipping (random routers), 2 = every sublayer skipped (upper bound).
# WebGPU runs the folder's GPU graph (skip mode if: a fully skipped sublayer is one If with an Identity branch),
# the CPU its gather graph (docs/EXPORT.md, "GPU graph").
for EP in webgpu cpu; do
  THREADS=$([ "$EP" = cpu ] && nproc || echo 1)
  node scripts/bench/routing.mjs --model "$MODEL" --ep "$EP" --threads "$THREADS" --thresholds 0,0.5,0.6,2 \
    --tokens 32 --repeat 3 2>&1 | tee "$OUT/routing-$EP.md" | grep -v -i vulkan || echo "$EP run failed (see $OUT/routing-$EP.md)"
done
echo "results in $OUT (copy into docs/BENCHMARKS.md with the GPU name from gpu.txt)"
