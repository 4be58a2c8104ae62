"""Compares exported model folders (e.g. fp32 vs --quant int4 / int8) side by side with Python onnxruntime:
size, perplexity on held-out code tokens (dense and routed), executed fraction, and decode time per token.
Run: cd training && ../.venv/bin/python -m skipgpt.export.bench_quant ../models/a ../models/a-int4 \
         --tokens ../data/corpus/test.npy
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from .manifest import read_manifest
from .ort_runner import OrtModel, make_session


def perplexity(m: OrtModel, tokens: np.ndarray, window: int, threshold: float) -> tuple[float, float]:
    """Mean NLL over non-overlapping windows (each from an empty cache); returns (ppl, executed fraction)."""
    nll, n, ex = 0.0, 0, []
    for start in range(0, len(tokens) - window, window):
        ids = tokens[start:start + window + 1]
        m.reset()
        out = m.step(ids[:-1].tolist(), threshold, num_logits=window)
        z = out.logits - out.logits.max(-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        nll -= float(logp[np.arange(window), ids[1:]].sum())
        n += window
        ex.append(float((out.probs >= threshold).mean()))
    return float(np.exp(nll / n)), float(np.mean(ex))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--tokens", type=Path, required=True, help=".npy token stream (e.g. data/corpus/test.npy)")
    ap.add_argument("--windows", type=int, default=4)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--decode-steps", type=int, default=32)
    ap.add_argument("--past", type=int, default=128)
    a = ap.parse_args()

    tokens = np.load(a.tokens).astype(np.int64)[: a.windows * a.window + 1]
    models = {}
    for f in a.folders:
        man = read_manifest(f)
        t = time.perf_counter()
        sess = make_session(f / man.files.model, a.threads, spin=False)
        load = time.perf_counter() - t
        size = sum(p.stat().st_size for p in f.iterdir() if p.name.startswith("model.onnx")) / 2**20
        models[f.name] = (OrtModel(sess, man.dims, man.io, capacity=a.past + a.decode_steps + 1), man, load, size)
        print(f"{f.name}: quantization {man.quantization.method} {man.quantization.bits or ''}, "
              f"{size:.0f} MiB, session created in {load:.1f}s", flush=True)
    print(f"perplexity: {a.windows} windows of {a.window} tokens from {a.tokens.name}; decode: past {a.past}, "
          f"{a.decode_steps} steps, {a.threads} threads, medians (wall / process CPU)")
    for name, (m, man, _, _) in models.items():
        row = []
        for thr in (0.0, man.router.threshold_default):
            ppl, ex = perplexity(m, tokens, a.window, thr)
            row.append(f"ppl@{thr:g} {ppl:7.3f} (exec {ex:.2f})")
        print(f"{name:32s} " + "  ".join(row), flush=True)
    thresholds = (0.0, 0.5)
    res = {(k, t): [] for k in models for t in thresholds}
    for m, *_ in models.values():
        m.reset()
        m.step(tokens[: a.past].tolist(), 0.5)
    for i in range(a.decode_steps):  # round-robin so every model and threshold sees the same machine load
        for name, (m, man, _, _) in models.items():
            for thr in thresholds:
                m.length = a.past  # same slot every step: constant past length
                w, c = time.perf_counter(), time.process_time()
                out = m.step([int(tokens[a.past + i])], thr)
                res[(name, thr)].append(((time.perf_counter() - w) * 1e3, (time.process_time() - c) * 1e3,
                                         float((out.probs >= thr).mean())))
    base = None
    for (name, thr), v in res.items():
        wall, cpu = statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)
        base = base or cpu
        print(f"{name:32s} decode @{thr:g}: exec {np.mean([x[2] for x in v]):.2f}  wall {wall:6.1f} ms  "
              f"cpu {cpu:6.1f} ms  ({base / cpu:4.2f}x vs first row, by CPU)")

if __name__ == "__main__":
    main()
