"""One command for a lent GPU machine: train routers + LoRA at 50x the CPU budget within the call's time limit and
print tokens/s. Run from training/ (no install needed; the logic is skipgpt/gpu_run.py, commands in
docs/TRAINING.md, "Devices and more than one machine"):

  python scripts/gpu_train.py --random-base --out $OUT     # speed only: random SmolLM2-135M weights and tokens
  python scripts/gpu_train.py --pack ../data/gpu_pack --out $OUT   # the real base + corpus, carried in parts
  python scripts/gpu_train.py pack                         # (here) write those parts
  python scripts/gpu_train.py --smoke                      # seconds on CPU: what the tests run
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # training/, so `skipgpt` imports without PYTHONPATH

from skipgpt.gpu_run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
