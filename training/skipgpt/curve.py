"""`python -m skipgpt curve`: quality against skip rate — routed (the sparsity dial), ShortGPT at the same rate, dense.

For each target rate the routed model runs at the threshold the product's dial would choose (calibrated on held-out
code exactly as the build does, export/calibrate.py, and interpolated as extension/engine/sparsity.ts does), and
ShortGPT removes the same count of sublayers statically (shortgpt.py, Block Influence from the committed mask file).
Every system is scored on the same test-split perplexity windows and the same next-line tasks (nextline.py), so all
differences are paired. Rows are saved as they finish and reused when their fingerprint is unchanged (a 2-core run
takes most of an hour). The report (table, plot, goals) is curve_report.py.
"""
from __future__ import annotations

import hashlib
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .evaluate import REPO, perplexity, qo_params, skip_fractions, sublayer_params, token_windows
from .export.calibrate import threshold_for
from .export.deltas import deltas_applied
from .model import SkipLlama
from .nextline import complete, load_tasks, score

RATES = [0.10, 0.15, 0.20, 0.25, 0.30, 0.40]
CURVE_VERSION = 1  # part of every row's fingerprint


# ---------------------------------------------------------------- the dial, in PyTorch

@torch.no_grad()
def calibrate(model: SkipLlama, windows: list[list[int]], grid: list[float]) -> list[dict]:
    """Skip rate at each threshold of `grid` on prefilled `windows` (the build's measure(), on the PyTorch model)."""
    ids = torch.tensor(windows)
    points = []
    for t in grid:
        if t == 0.0:
            points.append({"threshold": 0.0, "skip": 0.0, "attn_skip": 0.0, "mlp_skip": 0.0})
            continue
        skipped = 1.0 - model(ids, mode="hard", threshold=t).gates.double().mean(dim=(0, 1, 2))  # [2]
        a, m = float(skipped[0]), float(skipped[1])
        points.append({"threshold": t, "skip": (a + m) / 2, "attn_skip": a, "mlp_skip": m})
    return points


def calibration_windows(tokenizer, count: int = 4, window: int = 256) -> tuple[list[list[int]], list[str]]:
    from .export.calibrate import held_out_files, windows_from

    wins, names = windows_from(held_out_files(count * 2), lambda t: tokenizer(t, add_special_tokens=False)["input_ids"],
                               window)
    return wins[:count], names[:count]


# ---------------------------------------------------------------- one row

def run_row(model: SkipLlama, fwd: dict, windows: torch.Tensor, tasks, tokenizer, params, qo, *, eos_ids,
            max_new: int, log=print) -> dict:
    t0 = time.time()
    ppl = perplexity(model, windows, 4, **fwd)
    t1 = time.time()
    per_task, pre, dec, gen_tokens = [], [], [], 0
    for k, task in enumerate(tasks):
        c = complete(model, tokenizer, task.prompt, max_new=max_new, eos_ids=eos_ids, **fwd)
        em, es = score(c["text"], task.target)
        per_task.append({"em": em, "es": round(es, 4), "tokens": c["tokens"], "text": c["text"]})
        pre.append(c["prefill_skip"])
        if c["decode_skip"] is not None:
            dec.append(np.asarray(c["decode_skip"]) * c["tokens"])
            gen_tokens += c["tokens"]
        if (k + 1) % 20 == 0:
            ems = np.mean([t["em"] for t in per_task])
            log(f"  {k + 1}/{len(tasks)} tasks, exact match so far {ems:.3f} [{time.time() - t1:.0f}s]")
    dec_rates = (np.sum(dec, axis=0) / max(gen_tokens, 1)).tolist() if dec else None
    return {"ppl": ppl["ppl"], "window_nll": ppl["window_nll"],
            "skip": skip_fractions(ppl["skip_rate"], params, qo),
            "nextline_skip_prefill": skip_fractions(np.mean(pre, axis=0).tolist(), params, qo),
            "nextline_skip_decode": skip_fractions(dec_rates, params, qo) if dec_rates else None,
            "exact_match": float(np.mean([t["em"] for t in per_task])),
            "edit_similarity": float(np.mean([t["es"] for t in per_task])),
            "tasks": per_task, "ppl_wall_s": round(t1 - t0, 1), "nextline_wall_s": round(time.time() - t1, 1)}


def _cpu() -> str:
    try:
        return next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def fingerprint(*parts) -> str:
    h = hashlib.sha256(str(CURVE_VERSION).encode())
    for p in parts:
        h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def delta_bytes(folder: Path) -> bytes:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*.safetensors")):
        h.update(f.read_bytes())
    return h.digest()


# ---------------------------------------------------------------- CLI

def run(args) -> int:
    from .export.calibrate import thresholds
    from .loader import load_base

    torch.set_num_threads(args.threads)
    t_start = time.time()
    base, tok, info = load_base(args.base)
    tasks, tasks_sha = load_tasks(Path(args.tasks))
    tasks = tasks[:args.max_tasks] if args.max_tasks else tasks
    windows = token_windows(Path(args.corpus) / "test.npy", args.windows, args.seq_len)
    params, qo = sublayer_params(base), qo_params(base)
    eos_ids = {i for i in (tok.eos_token_id, tok.convert_tokens_to_ids("<|endoftext|>")) if i is not None}
    out = Path(args.out)
    res = json.loads(out.read_text()) if out.is_file() and args.reuse else {}
    rows: dict = res.get("rows", {})
    common = [info.sha256, tasks_sha, len(tasks), args.windows, args.seq_len, args.max_new]

    this_cmd = "cd training && ../.venv/bin/python -m skipgpt curve " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    # Rows may come from several calls (each adds what it was asked for): keep every command that wrote rows.
    commands = [c for c in res.get("command", "").split("; ") if c]
    commands += [] if this_cmd in commands else [this_cmd]

    def save():
        res.update(command="; ".join(commands), machine=f"{platform.machine()} {_cpu()}, no GPU", rows=rows,
                   tasks_file=str(args.tasks), tasks_sha256=tasks_sha, n_tasks=len(tasks), windows=args.windows, seq_len=args.seq_len, max_new=args.max_new, base=info.to_dict(),
                   threads=torch.get_num_threads())
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=1) + "\n")

    def do(name: str, model: SkipLlama, fwd: dict, fp: str, extra: dict):
        if rows.get(name, {}).get("fingerprint") == fp:
            print(f"{name}: reused (same fingerprint)")
            return
        print(f"{name}: running {len(tasks)} next-line tasks and {args.windows} perplexity windows")
        rec = run_row(model, fwd, windows, tasks, tok, params, qo, eos_ids=eos_ids, max_new=args.max_new)
        rows[name] = {**extra, **rec, "fingerprint": fp}
        save()
        print(f"{name}: ppl {rec['ppl']:.3f}, exact match {rec['exact_match']:.3f}, edit sim "
              f"{rec['edit_similarity']:.3f}, skipped {rec['skip']['count']:.3f} "
              f"({rec['ppl_wall_s'] + rec['nextline_wall_s']:.0f}s)")

    rates = [r / 100 for r in args.rates]
    dense = SkipLlama(base).eval()
    if not args.skip_dense:
        do("dense", dense, {"mode": "dense"}, fingerprint(common, "dense"), {"system": "dense", "target": 0.0})
    if args.dense_lora:  # the reference the perplexity goal names (a LoRA tuned on the dense model)
        folder = Path(args.dense_lora)
        with deltas_applied(base, folder) as dl:
            do("dense+LoRA", dl, {"mode": "dense"}, fingerprint(common, delta_bytes(folder)),
               {"system": "dense+LoRA", "target": 0.0, "delta": folder.name})
    if not args.skip_shortgpt:
        from .shortgpt import shortgpt_mask

        bi = json.loads(Path(args.bi_file).read_text())["block_influence"]
        for r in rates:
            mask, _ = shortgpt_mask(bi, r)
            m = torch.tensor(mask)
            do(f"ShortGPT {r:.0%}", dense, {"mode": "static", "static_mask": m}, fingerprint(common, mask),
               {"system": "ShortGPT", "target": r})
    cal_wins, cal_names = calibration_windows(tok)
    for label, folder in (tuple(x.split("=", 1)) for x in args.routed):
        folder = Path(folder)
        key = delta_bytes(folder)
        with deltas_applied(base, folder) as model:
            cal = rows.get(f"{label} calibration")
            if not cal or cal.get("fingerprint") != fingerprint(common, key, cal_wins):
                t0 = time.time()
                cal = {"points": calibrate(model, cal_wins, thresholds()), "windows": cal_names,
                       "fingerprint": fingerprint(common, key, cal_wins), "wall_s": round(time.time() - t0, 1)}
                rows[f"{label} calibration"] = cal
                save()
                print(f"{label}: calibrated in {cal['wall_s']}s")
            for r in rates:
                t = threshold_for(cal["points"], r)
                do(f"{label} {r:.0%}", model, {"mode": "hard", "threshold": t}, fingerprint(common, key, t),
                   {"system": label, "target": r, "threshold": t, "delta": folder.name})
    res["wall_s_this_run"] = round(time.time() - t_start, 1)
    save()
    print(f"wrote {out}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("curve", help="perplexity and next-line exact match against skip rate: routed, ShortGPT, dense")
    p.add_argument("--base", default="default")
    p.add_argument("--corpus", default=str(REPO / "data/corpus"))
    p.add_argument("--tasks", default=str(REPO / "data/nextline/tasks.jsonl"), help="from `skipgpt nextline-tasks`")
    p.add_argument("--max-tasks", type=int, help="use only the first N tasks")
    p.add_argument("--routed", nargs="*", default=[], metavar="LABEL=DELTAS",
                   help="routed systems: a label and a delta folder (routers.safetensors [+ lora/])")
    p.add_argument("--rates", nargs="+", type=float, default=[r * 100 for r in RATES], help="target skip rates, %%")
    p.add_argument("--bi-file", default=str(REPO / "training/results/shortgpt25_mask.json"),
                   help="a ShortGPT mask file holding the Block Influence values")
    p.add_argument("--windows", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--max-new", type=int, default=40)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dense-lora", help="also score dense + this delta folder's LoRA (the perplexity goal's reference)")
    p.add_argument("--skip-dense", action="store_true")
    p.add_argument("--skip-shortgpt", action="store_true")
    p.add_argument("--no-reuse", dest="reuse", action="store_false")
    p.add_argument("--out", default=str(REPO / "training/results/curve.json"))
    p.set_defaults(func=run)
