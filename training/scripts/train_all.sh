#!/usr/bin/env bash
# Runs every reference training run in sequence (routed 25% / 40%, dense+LoRA, ShortGPT+LoRA 25% / 40%),
# skipping runs whose delta folder is complete and resuming interrupted ones from runs/<name>/ checkpoints.
# Usage (from anywhere): training/scripts/train_all.sh   — logs in runs/<name>.log. Budget: docs/TRAINING.md.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-../.venv/bin/python}
STAGE1_STEPS=${STAGE1_STEPS:-50}
STAGE2_STEPS=${STAGE2_STEPS:-20}
BATCH=${BATCH:-2}
SEQ=${SEQ:-128}
DTYPE=${DTYPE:-bfloat16}
COMMON=(--batch-size "$BATCH" --seq-len "$SEQ" --dtype "$DTYPE" --threads 2 --seed 0 --checkpoint-every 10
        --stage1-steps "$STAGE1_STEPS" --stage2-steps "$STAGE2_STEPS" --val-batches 4)
mkdir -p ../runs
status=0

run() {  # run NAME ARGS...: skip if finished, else train (resuming) and log
  local name=$1; shift
  if [[ -f deltas/$name/config.json && -f deltas/$name/results.json ]]; then
    echo "[train_all] $name: done already (deltas/$name), skipping"; return 0
  fi
  echo "[train_all] $name: starting $(date -u +%H:%M:%S)"
  if ! "$PY" -m skipgpt train --name "$name" --resume "${COMMON[@]}" "$@" >> "../runs/$name.log" 2>&1; then
    echo "[train_all] $name: FAILED, see runs/$name.log"; status=1; return 1
  fi
  echo "[train_all] $name: finished $(date -u +%H:%M:%S)"
}

run_static() {  # ShortGPT masks come from `python -m skipgpt shortgpt` (training/results/shortgpt{25,40}_mask.json)
  local name=$1 mask=$2
  if [[ ! -f $mask ]]; then
    echo "[train_all] $name: $mask missing (run python -m skipgpt shortgpt first), skipping"; return 0
  fi
  run "$name" --lora-only static --static-mask-file "$mask"
}

run smollm2-135m-skip25 --target-skip 0.25
run smollm2-135m-skip40 --target-skip 0.40
run smollm2-135m-dense-lora --lora-only dense
run_static smollm2-135m-shortgpt25-lora results/shortgpt25_mask.json
run_static smollm2-135m-shortgpt40-lora results/shortgpt40_mask.json
exit $status
