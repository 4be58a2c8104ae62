"""The optimisation loop shared by both stages: batches, loss step, checkpoint/resume, progress bar, val scoring.

Stage 1 (router tuning) and stage 2 (LoRA) differ only in which parameters train, the loss and the LR schedule;
those are passed in by train.py. Resume restores parameters, optimizer, scheduler, step and torch RNG; batches are
drawn from an RNG seeded by (seed, stage, step), so an interrupted run continues exactly as an uninterrupted one.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .model import SkipLlama
from .runtime import Runtime


class TokenStream:
    """A uint16 token stream (.npy from the corpus command), read through a memory map."""

    def __init__(self, path: str | Path):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found; build the corpus first: python -m skipgpt corpus")
        self.tokens = np.load(path, mmap_mode="r")

    def batch(self, rng: np.random.Generator, batch_size: int, seq_len: int) -> torch.Tensor:
        """Random windows of seq_len + 1 tokens (inputs and shifted targets)."""
        n = len(self.tokens) - seq_len - 1
        if n <= 0:
            raise ValueError(f"token stream has {len(self.tokens)} tokens, fewer than seq_len + 1 = {seq_len + 1}")
        starts = rng.integers(0, n, size=batch_size)
        return torch.from_numpy(np.stack([self.tokens[s:s + seq_len + 1].astype(np.int64) for s in starts]))

    def fixed_batches(self, count: int, batch_size: int, seq_len: int) -> list[torch.Tensor]:
        """Deterministic evenly spaced windows for scoring (the same for every run)."""
        n = len(self.tokens) - seq_len - 1
        if count == 0 or n <= 0:
            return []
        starts = np.linspace(0, n, count * batch_size, dtype=np.int64).reshape(count, batch_size)
        return [torch.from_numpy(np.stack([self.tokens[s:s + seq_len + 1].astype(np.int64) for s in row]))
                for row in starts]


def lm_loss(logits: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy; logits cover batch[:, :-1]."""
    return F.cross_entropy(logits.flatten(0, 1).float(), batch[:, 1:].flatten())


@dataclass
class StepResult:
    loss: torch.Tensor  # what is minimised
    ce: float
    skip: float  # realised skip fraction of this batch (1 − mean execute gate)
    tau: float | None = None


@dataclass
class StageStats:
    steps: int = 0
    tokens_seen: int = 0
    wall_s: float = 0.0
    history: list[dict] = field(default_factory=list)  # one row per optimizer step

    def tail_mean(self, key: str, n: int = 10) -> float | None:
        vals = [h[key] for h in self.history[-n:] if h.get(key) is not None]
        return float(np.mean(vals)) if vals else None


def trainable(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def run_stage(name: str, model: SkipLlama, stream: TokenStream, step_fn: Callable[[torch.Tensor, int], StepResult],
              *, steps: int, make_sched: Callable, lr: float, weight_decay: float, grad_clip: float,
              batch_size: int, seq_len: int, seed: int, ckpt_path: Path, checkpoint_every: int, resume: bool,
              stop_after: int | None = None, progress: bool = True, runtime: Runtime | None = None,
              deadline: float | None = None) -> tuple[StageStats, bool]:
    """Train until `steps`; returns (stats, finished). `stop_after` ends the call early (tests, time-slicing);
    so does `deadline` (time.time() value; the state at that step is checkpointed, so --resume continues).
    `runtime` (runtime.py): device, autocast and data-parallel rank; batches are drawn whole (the global batch) on
    every rank and sliced, only rank 0 writes checkpoints and shows progress. None = one CPU process."""
    from tqdm import tqdm

    rt = runtime or Runtime(torch.device("cpu"))

    params = trainable(model)
    if not params:
        raise RuntimeError(f"{name}: no trainable parameters")
    opt = torch.optim.AdamW(params.values(), lr=lr, weight_decay=weight_decay)
    sched = make_sched(opt)
    stats, start = StageStats(), 0
    if resume and ckpt_path.is_file():
        ck = load_checkpoint(ckpt_path)
        missing = set(params) ^ set(ck["params"])
        if missing:
            raise RuntimeError(f"checkpoint {ckpt_path} does not fit this run (parameters {sorted(missing)[:3]})")
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(ck["params"][n])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        torch.set_rng_state(ck["torch_rng"])
        stats = StageStats(**ck["stats"])
        start = ck["step"]
    model.train()
    bar = tqdm(total=steps, initial=start, desc=name, disable=not (progress and rt.is_main), dynamic_ncols=True)
    t0 = time.perf_counter() - stats.wall_s
    step = start
    while step < steps:
        if stop_after is not None and step - start >= stop_after:
            break
        if deadline is not None and step > start and rt.any(time.time() >= deadline):  # all ranks stop together
            if rt.is_main and step % checkpoint_every:
                save_checkpoint(ckpt_path, params, opt, sched, step, stats)
            break
        rng = np.random.default_rng([seed, hash_stage(name), step])
        batch = stream.batch(rng, batch_size, seq_len)
        rt.seed_step(seed, hash_stage(name), step)
        with rt.autocast():
            res = step_fn(rt.local_batch(batch), step)
        opt.zero_grad(set_to_none=True)
        res.loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), grad_clip)
        opt.step()
        sched.step()
        step += 1
        stats.steps = step
        stats.tokens_seen += batch.shape[0] * (batch.shape[1] - 1)
        stats.wall_s = time.perf_counter() - t0
        loss, ce, skip = float(res.loss.detach()), res.ce, res.skip
        if rt.distributed:  # log the global batch's means (equal row counts per rank)
            loss, ce, skip = rt.mean(torch.tensor([loss, ce, skip], dtype=torch.float64, device=rt.device)).tolist()
        row = {"step": step, "loss": loss, "ce": ce, "skip": skip, "lr": sched.get_last_lr()[0]}
        if res.tau is not None:
            row["tau"] = res.tau
        stats.history.append(row)
        bar.set_postfix(loss=f"{row['loss']:.3f}", skip=f"{skip:.3f}",
                        **({"tau": f"{res.tau:.2f}"} if res.tau is not None else {}))
        bar.update()
        if (step % checkpoint_every == 0 or step == steps) and rt.is_main:
            save_checkpoint(ckpt_path, params, opt, sched, step, stats)
    bar.close()
    return stats, step >= steps


def hash_stage(name: str) -> int:
    """A stable (not Python-hash-randomised) integer per stage name for the batch RNG."""
    return sum((i + 1) * ord(c) for i, c in enumerate(name))


class CheckpointError(RuntimeError):
    """A checkpoint in runs/<name>/ that this toolkit cannot have written (e.g. a pickle carrying code)."""


def load_checkpoint(path: Path) -> dict:
    """torch.load restricted to tensors and plain containers (weights_only=True): a planted runs/<name>/*.ckpt or
    stage1_routers.pt could otherwise run arbitrary code on --resume. Everything save_checkpoint and train.py write
    (state dicts, optimizer/scheduler state, RNG byte tensor, stats of numbers and lists) passes this check."""
    import pickle

    try:
        return torch.load(path, weights_only=True, map_location="cpu")  # a GPU run can resume on a CPU
    except pickle.UnpicklingError as e:
        # torch's message advises weights_only=False, the very thing to avoid here; keep only its reason line(s).
        detail = " ".join(ln.strip() for ln in str(e).splitlines() if ln.strip() and not ln.startswith(
            ("Weights only load failed", "Check the documentation")))
        raise CheckpointError(f"refusing to load checkpoint {path}: it holds objects other than tensors and plain "
                              f"data, which this toolkit never writes (it may carry code). Delete {path.parent} "
                              f"and train again without --resume. ({detail or type(e).__name__})") from e


def save_checkpoint(path: Path, params, opt, sched, step: int, stats: StageStats) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"params": {n: p.detach().clone() for n, p in params.items()}, "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "torch_rng": torch.get_rng_state(), "step": step,
                "stats": stats.__dict__}, tmp)
    tmp.replace(path)  # atomic: a kill mid-write never leaves a broken checkpoint


@torch.no_grad()
def score(model: SkipLlama, batches: list[torch.Tensor], *, runtime: Runtime | None = None, **fwd) -> dict:
    """Mean CE and per-layer skip rates [L][2] on fixed batches (hard decisions, no sampling). Every rank scores
    all batches (no collectives, the same numbers everywhere)."""
    if not batches:
        return {}
    rt = runtime or Runtime(torch.device("cpu"))
    was_training = model.training
    model.eval()
    ces, skips = [], []
    for b in batches:
        b = b.to(rt.device)
        with rt.autocast():
            out = model(b[:, :-1], **fwd)
        ces.append(float(lm_loss(out.logits, b)))
        skips.append(1.0 - out.gates.float().mean(dim=(0, 1)))  # [L, 2]
    model.train(was_training)
    per_layer = torch.stack(skips).mean(0)
    return {"ce": float(np.mean(ces)), "ppl": float(np.exp(np.mean(ces))), "skip": float(per_layer.mean()),
            "skip_attn": float(per_layer[:, 0].mean()), "skip_mlp": float(per_layer[:, 1].mean()),
            "per_layer_skip": [[round(float(a), 4), round(float(m), 4)] for a, m in per_layer]}
