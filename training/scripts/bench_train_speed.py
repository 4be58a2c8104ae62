"""Measures tokens/s of SmolLM2-135M (default GGUF base): forward, stage-1 step (routers) and stage-2 step (LoRA),
in float32 and bfloat16, side by side in one run (medians). Used to size the budget in docs/TRAINING.md.

Run from training/: PYTHONPATH=. ../.venv/bin/python scripts/bench_train_speed.py --batch 2 --seq 256
"""
import argparse
import copy
import statistics
import time

import torch

from skipgpt.config import Stage2Config
from skipgpt.loader import load_base
from skipgpt.model import SkipLlama
from skipgpt.train import add_lora, stage1_step, stage2_step
from skipgpt.config import Stage1Config


def median_time(fn, reps):
    fn()  # warm-up (oneDNN kernel selection)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def measure(base, x, reps):
    """(forward s, stage-1 step s, stage-2 step s) for one base copy."""
    m = SkipLlama(base)
    for p in m.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        fwd = median_time(lambda: m(x[:, :-1], mode="hard"), reps)
    for p in m.routers.parameters():
        p.requires_grad_(True)
    s1 = stage1_step(m, Stage1Config(steps=10))
    t1 = median_time(lambda: s1(x, 3).loss.backward(), reps)
    for p in m.routers.parameters():
        p.requires_grad_(False)
    add_lora(m, Stage2Config())
    m.train()
    s2 = stage2_step(m, {"mode": "hard", "threshold": 0.5})
    t2 = median_time(lambda: s2(x, 0).loss.backward(), reps)
    return fwd, t1, t2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    base, _, _ = load_base("default")
    x = torch.randint(0, base.config.vocab_size, (a.batch, a.seq + 1))
    ntok = a.batch * a.seq
    rows = {}
    for dt in ("float32", "bfloat16"):
        rows[dt] = measure(copy.deepcopy(base).to(getattr(torch, dt)), x, a.reps)
        print(f"{dt}: done", flush=True)
    ref = rows["float32"][0]
    print(f"threads={a.threads} batch={a.batch} seq={a.seq} tokens/step={ntok}, median of {a.reps}")
    print(f"{'dtype':9} {'what':22} {'tok/s':>8} {'s/step':>7} {'time vs fp32 fwd':>17}")
    for dt, ts in rows.items():
        for what, t in zip(("forward (no grad)", "stage1 fwd+bwd", "stage2 fwd+bwd (LoRA)"), ts):
            print(f"{dt:9} {what:22} {ntok / t:8.1f} {t:7.2f} {t / ref:17.2f}")


if __name__ == "__main__":
    main()
