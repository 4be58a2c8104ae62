"""Benchmark of the graph's skip modes (gather / if / mask) on a SmolLM2-shaped random model with Python
onnxruntime: decode (S=1) and prefill (S=64..512) at threshold 0 (dense), 0.5 (routers calibrated to skip about
`--skip` of each module) and 2 (everything skipped). Modes are measured round-robin in one run; medians of wall
time and of process CPU time (thread spinning off, so CPU time is work done: robust on a shared, loaded machine).
Run: cd training && ../.venv/bin/python -m skipgpt.export.bench_skip [--layers 30] [--threads 2]
"""
from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ..model import SkipLlama
from .graph_model import SKIP_MODES, build_graph, save_model
from .ort_runner import OrtModel, make_session
from .weights import extract_weights


def smollm2_shaped(layers: int, vocab: int, seed: int = 0) -> SkipLlama:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=576, intermediate_size=1536, num_hidden_layers=layers,
                      num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
                      tie_word_embeddings=True, rope_theta=100000.0, rms_norm_eps=1e-5)
    return SkipLlama(LlamaForCausalLM(cfg).eval()).eval()


@torch.no_grad()
def calibrate_routers(skip: SkipLlama, skip_frac: float, seed: int = 0) -> None:
    """Random router weights, biases set so that about `skip_frac` of tokens skip each module at threshold 0.5."""
    g = torch.Generator().manual_seed(seed)
    for r in skip.routers:
        for lin in (r.attn, r.mlp):
            lin.weight.normal_(0, 1.0, generator=g)
            lin.bias.zero_()
    ids = torch.randint(0, skip.config.vocab_size, (1, 256), generator=g)
    for r, x in zip(skip.routers, _block_inputs(skip, ids)):
        for lin in (r.attn, r.mlp):
            logit = lin(x.float())
            diff = (logit[..., 0] - logit[..., 1]).flatten()
            lin.bias[0] = -float(torch.quantile(diff, skip_frac))  # execute iff diff + bias >= 0


@torch.no_grad()
def _block_inputs(skip: SkipLlama, ids) -> list[torch.Tensor]:
    seen = []
    hooks = [layer.input_layernorm.register_forward_hook(lambda m, a, o: seen.append(a[0]))
             for layer in skip._llama().model.layers]
    skip(ids, mode="dense")
    for h in hooks:
        h.remove()
    return seen


def _timed(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - w) * 1e3, (time.process_time() - c) * 1e3


def _report(label: str, res: dict[str, list[tuple[float, float]]]) -> None:
    """One line: per mode the median wall ms and median CPU ms, and the CPU-time ratio against `mask`."""
    wall = {k: statistics.median(x[0] for x in v) for k, v in res.items()}
    cpu = {k: statistics.median(x[1] for x in v) for k, v in res.items()}
    base = cpu.get("mask", next(iter(cpu.values())))
    print(f"{label}  " + "  ".join(f"{k}: wall {wall[k]:7.1f} cpu {cpu[k]:7.1f}ms ({base / cpu[k]:4.2f}x)"
                                   for k in res), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=30)
    ap.add_argument("--vocab", type=int, default=49152)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip", type=float, default=0.25, help="fraction of each module skipped at threshold 0.5")
    ap.add_argument("--cache", type=int, default=256, help="past length for decode")
    ap.add_argument("--prefill", type=int, nargs="*", default=[64, 256, 512])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--modes", nargs="*", default=list(SKIP_MODES))
    a = ap.parse_args()

    skip = smollm2_shaped(a.layers, a.vocab)
    calibrate_routers(skip, a.skip)
    w = extract_weights(skip)
    tmp = Path(tempfile.mkdtemp())
    models = {}
    for mode in a.modes:
        (tmp / mode).mkdir()
        save_model(build_graph(w, mode), tmp / mode)
        models[mode] = OrtModel(make_session(tmp / mode / "model.onnx", a.threads, spin=False), w.dims,
                                capacity=a.cache + 8)
    del skip
    rng = np.random.default_rng(0)
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {a.threads} threads, layers {a.layers}, "
          f"medians of {a.reps}")
    thresholds = {"dense(0)": 0.0, "routed(0.5)": 0.5, "all-skip(2)": 2.0}
    # decode: fill the cache once per mode, then time single-token steps at a fixed past length
    for m in models.values():
        m.reset(a.cache + 8)
        m.step(rng.integers(0, a.vocab, a.cache).tolist(), 0.0)
    frac = {}
    for tname, thr in thresholds.items():
        for m in models.values():  # warm-up; overwriting the same slot keeps the past length constant
            m.length = a.cache
            frac[tname] = float((m.step([int(rng.integers(0, a.vocab))], thr).probs >= thr).mean())
        res = {k: [] for k in models}  # round-robin below: each mode sees the same machine load
        for _ in range(a.reps):
            for mode, m in models.items():
                m.length = a.cache
                res[mode].append(_timed(lambda: m.step([int(rng.integers(0, a.vocab))], thr)))
        _report(f"decode S=1 past={a.cache} {tname:12s} exec={frac[tname]:.2f}", res)
    for S in a.prefill:
        ids = rng.integers(0, a.vocab, S).tolist()
        for tname, thr in list(thresholds.items())[:2]:
            res = {k: [] for k in models}
            reps = max(3, a.reps // 3)
            for _ in range(reps):
                for mode, m in models.items():
                    m.reset()
                    res[mode].append(_timed(lambda: m.step(ids, thr)))
            ex = float((m.step(ids, thr).probs >= thr).mean())
            _report(f"prefill S={S:<4d} {tname:12s} exec={ex:.2f}", res)


if __name__ == "__main__":
    main()
