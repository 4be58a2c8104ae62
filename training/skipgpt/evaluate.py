"""Held-out evaluation (`python -m skipgpt evaluate`): perplexity on a fixed slice of the test split and realised
skip fractions of dense, dense+LoRA, routers (± LoRA) at 25%/40% and ShortGPT (± LoRA) at 25%/40%.

Writes training/results/eval.json, docs/img/skip_rates.png and the "evaluation" section of docs/EVALUATION.md.
Decisions are deterministic (execute iff p_execute >= threshold); missing deltas give a "missing" row.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .model import SkipLlama

REPO = Path(__file__).resolve().parents[2]
EVAL_VERSION = 2  # part of every row fingerprint: bump when what a row records changes (2: per-window NLL)


@dataclass
class Row:
    name: str
    kind: str  # dense | routed | static
    delta: str | None = None  # folder under training/deltas (None: the plain base)
    lora: bool = False
    mask: str | None = None  # static rows: mask file under training/results
    optional: bool = False  # extra runs: left out of the table (not "missing") when the delta folder is absent


ROWS = [
    Row("dense", "dense"),
    Row("dense+LoRA", "dense", "smollm2-135m-dense-lora", True),
    Row("routers 25%", "routed", "smollm2-135m-skip25"),
    Row("routers+LoRA 25%", "routed", "smollm2-135m-skip25", True),
    Row("ShortGPT 25%", "static", mask="shortgpt25_mask.json"),
    Row("ShortGPT+LoRA 25%", "static", "smollm2-135m-shortgpt25-lora", True, "shortgpt25_mask.json"),
    Row("routers 40%", "routed", "smollm2-135m-skip40"),
    Row("routers+LoRA 40%", "routed", "smollm2-135m-skip40", True),
    Row("ShortGPT 40%", "static", mask="shortgpt40_mask.json"),
    Row("ShortGPT+LoRA 40%", "static", "smollm2-135m-shortgpt40-lora", True, "shortgpt40_mask.json"),
    # Budget check: 4× the stage-1 tokens (docs/TRAINING.md); evaluated when (and as far as) it exists.
    Row("routers 25% (4× stage-1 tokens)", "routed", "smollm2-135m-skip25-long", optional=True),
    Row("routers+LoRA 25% (4× stage-1 tokens)", "routed", "smollm2-135m-skip25-long", True, optional=True),
    # Second budget check, run once the machine was quiet: 16× the stage-1 tokens, 8× the stage-2 tokens (so its
    # +LoRA row has more LoRA budget than dense+LoRA: the comparison with that row is not budget-matched).
    Row("routers 25% (16× stage-1 tokens)", "routed", "smollm2-135m-skip25-x16", optional=True),
    Row("routers+LoRA 25% (16× stage-1 tokens)", "routed", "smollm2-135m-skip25-x16", True, optional=True),
    # Later: the 4× routers above with 10× the stage-2 (LoRA) tokens of the reference run.
    Row("routers+LoRA 25% (4× stage-1, 10× LoRA tokens)", "routed", "smollm2-135m-skip25-long-lora", True, optional=True),
    Row("routers+LoRA 25% (4× stage-1, 30× LoRA tokens)", "routed", "smollm2-135m-skip25-long-lora3", True, optional=True),
    Row("routers+LoRA 25% (4× stage-1, 60× LoRA tokens)", "routed", "smollm2-135m-skip25-long-lora6", True, optional=True),
    # ... and 8× the stage-1 tokens at the 4× run's batch (x16 doubled the batch too), 20× the LoRA tokens.
    Row("routers 25% (8× stage-1 tokens)", "routed", "smollm2-135m-skip25-x8b4", optional=True),
    Row("routers+LoRA 25% (8× stage-1, 20× LoRA tokens)", "routed", "smollm2-135m-skip25-x8b4", True, optional=True),
    # ... the same 8× stage 1 with a cosine-decaying LR (the constant LR lost its progress near step 80), 30× LoRA.
    Row("routers 25% (8× stage-1 tokens, cosine LR)", "routed", "smollm2-135m-skip25-x8cos", optional=True),
    Row("routers+LoRA 25% (8× stage-1, cosine LR, 30× LoRA tokens)", "routed", "smollm2-135m-skip25-x8cos", True,
        optional=True),
]


def token_windows(path: Path, n_windows: int, seq_len: int) -> torch.Tensor:
    """The first n_windows·seq_len tokens of a corpus split as non-overlapping windows [n_windows, seq_len].
    Deterministic (no sampling), so every configuration is scored on exactly the same tokens."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: build the corpus first (cd training && "
                                f"../.venv/bin/python -m skipgpt corpus)")
    tokens = np.load(path, mmap_mode="r")
    need = n_windows * seq_len
    if len(tokens) < need:
        raise ValueError(f"{path} has {len(tokens)} tokens, fewer than {n_windows} windows × {seq_len} = {need}; "
                         f"pass fewer --windows or a shorter --seq-len")
    return torch.from_numpy(np.asarray(tokens[:need], dtype=np.int64).reshape(n_windows, seq_len))


def sublayer_params(model) -> list[list[int]]:
    """Parameters of each layer's attention and MLP projections, [[attn, mlp], ...], read from the model
    (the norms, 576 weights each, are left out: they are not what a skip saves reading)."""
    llama = model._llama() if hasattr(model, "_llama") else model
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    return [[count(layer.self_attn), count(layer.mlp)] for layer in llama.model.layers]


def qo_params(model) -> list[int]:
    """q_proj + o_proj parameters per layer: what a skipped attention saves when K/V are still computed."""
    llama = model._llama() if hasattr(model, "_llama") else model
    return [l.self_attn.q_proj.weight.numel() + l.self_attn.o_proj.weight.numel() for l in llama.model.layers]


def skip_fractions(rates: list[list[float]], params: list[list[int]], qo: list[int] | None = None) -> dict:
    """rates[l] = [attn skip rate, mlp skip rate] over tokens. count: fraction of sublayer executions skipped;
    params: each sublayer weighted by its parameter count; weights_read (if qo): attention skips save only q/o."""
    r, p = np.asarray(rates, dtype=np.float64), np.asarray(params, dtype=np.float64)
    out = {"count": float(r.mean()), "params": float((r * p).sum() / p.sum()),
           "attn": float(r[:, 0].mean()), "mlp": float(r[:, 1].mean())}
    if qo is not None:
        saved = r[:, 0] * np.asarray(qo, dtype=np.float64) + r[:, 1] * p[:, 1]
        out["weights_read"] = float(saved.sum() / p.sum())
    return out


@torch.no_grad()
def perplexity(model: SkipLlama, windows: torch.Tensor, batch: int = 4, **fwd) -> dict:
    """Mean next-token NLL over every window (each window predicts its tokens 1..S-1 from the ones before) and
    the per-layer skip rates of the gates actually applied, counted over all tokens run through the model."""
    nll, scored, seen, per_window = 0.0, 0, 0, []
    executed = torch.zeros(model.num_layers, 2, dtype=torch.float64)
    for start in range(0, windows.shape[0], batch):
        ids = windows[start:start + batch]
        out = model(ids, **fwd)
        logits = out.logits[:, :-1].float()
        tok_nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1),
                                  reduction="none").view(ids.shape[0], -1)
        nll += tok_nll.sum().item()
        per_window += tok_nll.mean(dim=1).tolist()
        scored += ids[:, 1:].numel()
        executed += out.gates.double().sum(dim=(0, 1))
        seen += ids.numel()
    mean = nll / scored
    return {"nll": mean, "ppl": math.exp(mean), "tokens_scored": scored, "window_nll": per_window,
            "skip_rate": (1.0 - executed / seen).tolist()}


def _bootstrap_mean_diffs(a: list[float], b: list[float], n: int, seed: int) -> np.ndarray:
    """n paired-bootstrap resamples of mean(a − b): items (windows, tasks) are drawn with replacement, pairs kept."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    idx = np.random.default_rng(seed).integers(0, len(d), size=(n, len(d)))
    return d[idx].mean(axis=1)


def ratio_ci(a: list[float], b: list[float], n: int = 2000, seed: int = 0) -> list[float] | None:
    """95% paired-bootstrap interval of PPL_a / PPL_b over windows (windows have equal token counts, so
    PPL = exp(mean window NLL)); resampling windows keeps each pair of rows on the same text."""
    if not a or len(a) != len(b):
        return None
    lo, hi = np.percentile(np.exp(_bootstrap_mean_diffs(a, b, n, seed)), [2.5, 97.5])
    return [float(lo), float(hi)]


def paired_diff_ci(a: list[float], b: list[float], n: int = 2000, seed: int = 0) -> list[float]:
    """95% paired-bootstrap interval of mean(a) − mean(b) over items (e.g. next-line tasks, curve.py)."""
    lo, hi = np.percentile(_bootstrap_mean_diffs(a, b, n, seed), [2.5, 97.5])
    return [float(lo), float(hi)]


def _show(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def _delta_problem(folder: Path, row: Row, base_sha: dict) -> str | None:
    """Why a delta folder cannot be evaluated (None when it can)."""
    shown = _show(folder)
    if not folder.is_dir():
        return f"{shown} does not exist (training not run or not finished)"
    need = (["routers.safetensors"] if row.kind == "routed" else []) + (["lora/adapter_config.json"] if row.lora else [])
    for f in need + ["config.json"]:
        if not (folder / f).is_file():
            return f"{shown}/{f} is missing"
    sha = json.loads((folder / "config.json").read_text()).get("base", {}).get("sha256")
    if sha and sha != base_sha:
        return f"{shown} was trained on another base ({sha}), not {base_sha}"
    return None


def _static_mask(row: Row, folder: Path | None, results_dir: Path, L: int) -> torch.Tensor:
    from .config import load_static_mask

    if folder is not None and (folder / "results.json").is_file():
        trained = json.loads((folder / "results.json").read_text()).get("static_mask")
        if trained is not None:  # the mask the LoRA was actually trained with
            return torch.tensor(trained, dtype=torch.bool)
    return load_static_mask(results_dir / row.mask, L)


def fingerprint(row: Row, folder: Path | None, mask: torch.Tensor | None, windows: torch.Tensor, base_sha: dict,
                threshold: float) -> str:
    """Hash of everything a row's numbers depend on: the row, the scored tokens, the base, the threshold, the
    static mask and the bytes of the delta files. Equal fingerprint = the same computation, safe to reuse."""
    what = {k: v for k, v in asdict(row).items() if k != "optional"}  # `optional` does not change the numbers
    h = hashlib.sha256(json.dumps({"row": what, "base": base_sha, "threshold": threshold, "v": EVAL_VERSION},
                                  sort_keys=True).encode())
    h.update(windows.numpy().tobytes())
    if mask is not None:
        h.update(mask.numpy().tobytes())
    if folder is not None:
        for f in ("routers.safetensors", "lora/adapter_config.json", "lora/adapter_model.safetensors"):
            if (folder / f).is_file():
                h.update(f.encode() + (folder / f).read_bytes())
    return h.hexdigest()


def evaluate_rows(base, windows: torch.Tensor, base_sha: dict, *, deltas_dir: Path, results_dir: Path,
                  rows: list[Row] = ROWS, batch: int = 4, threshold: float = 0.5, previous: dict | None = None,
                  log=print) -> list[dict]:
    """Evaluate each row, or reuse a row of an earlier eval.json (`previous`, by name) whose fingerprint matches,
    so rows can be computed as their deltas appear instead of all at once on a busy 2-core machine."""
    from peft import PeftModel
    from .export.deltas import load_safetensors

    params, qo = sublayer_params(base), qo_params(base)
    L = base.config.num_hidden_layers
    pristine = {k: v.detach().clone() for k, v in base.state_dict().items()}  # restored after each LoRA merge
    out = []
    for row in rows:
        rec: dict = {"name": row.name, "kind": row.kind, "delta": row.delta, "lora": row.lora}
        folder = deltas_dir / row.delta if row.delta else None
        if row.optional and folder is not None and not folder.is_dir():
            continue
        problem = _delta_problem(folder, row, base_sha) if folder else None
        if row.kind == "static" and folder is None and not (results_dir / row.mask).is_file():
            problem = f"{row.mask} not found: run `python -m skipgpt shortgpt` first"
        if problem and row.optional:  # an extra run that was made without this part (e.g. routers only)
            log(f"{row.name}: left out ({problem})")
            continue
        if problem:
            out.append({**rec, "status": "missing", "reason": problem})
            log(f"{row.name}: missing ({problem})")
            continue
        mask = _static_mask(row, folder, results_dir, L) if row.kind == "static" else None
        fp = fingerprint(row, folder, mask, windows, base_sha, threshold)
        old = (previous or {}).get(row.name)
        if old and old.get("status") == "ok" and old.get("fingerprint") == fp:
            out.append({**old, "reused": True})
            log(f"{row.name}: reused (same fingerprint), ppl {old['ppl']:.3f}")
            continue
        t0 = time.time()
        llama = base
        if row.lora:
            llama = PeftModel.from_pretrained(base, str(folder / "lora")).merge_and_unload()
        model = SkipLlama(llama).eval()
        fwd: dict = {"mode": "dense"}
        if row.kind == "routed":
            model.load_router_state_dict(load_safetensors(folder / "routers.safetensors"))
            fwd = {"mode": "hard", "threshold": threshold}
        elif row.kind == "static":
            fwd = {"mode": "static", "static_mask": mask}
        res = perplexity(model, windows, batch, **fwd)
        if row.lora:
            base.load_state_dict(pristine)
        rec.update(status="ok", fingerprint=fp, reused=False, **res, skip=skip_fractions(res["skip_rate"], params, qo),
                   eval_wall_s=round(time.time() - t0, 1))
        if folder and (folder / "config.json").is_file():
            rec["training"] = json.loads((folder / "config.json").read_text()).get("stages", {})
        out.append(rec)
        log(f"{row.name}: ppl {res['ppl']:.3f}, skip {rec['skip']['count']:.3f} ({rec['eval_wall_s']} s)")
    return out


def goals(rows: list[dict]) -> dict:
    """The issue's targets, checked on whatever rows exist (None where a needed row is missing)."""
    ppl = {r["name"]: r["ppl"] for r in rows if r["status"] == "ok"}
    win = {r["name"]: r.get("window_nll") for r in rows if r["status"] == "ok"}
    ratio = lambda a, b: ppl[a] / ppl[b] if a in ppl and b in ppl else None  # noqa: E731
    ci = lambda a, b: ratio_ci(win[a], win[b]) if a in win and b in win else None  # noqa: E731
    g = {}
    for pct, tol in ((25, 0.03), (40, 0.15)):
        # The main rows always; extra runs of the same target (e.g. "(4× stage-1 tokens)") only where evaluated.
        variants = [""] + sorted({n[n.index("(") - 1:] for n in ppl if n.startswith((f"routers {pct}% (",
                                                                                   f"routers+LoRA {pct}% ("))})
        for v in variants:
            pairs = [(f"routers+LoRA {pct}%{v}", "dense+LoRA", f"within {tol:.0%} of"),
                     (f"routers+LoRA {pct}%{v}", f"ShortGPT+LoRA {pct}%", "better than"),
                     (f"routers {pct}%{v}", f"ShortGPT {pct}%", "better than")]
            for a, b, how in pairs:
                rr, c = ratio(a, b), ci(a, b)
                if v and rr is None:
                    continue  # an extra run lacking this row: nothing to report
                if how.startswith("within"):
                    met = None if rr is None else rr <= 1 + tol
                else:  # "clearly better": the whole 95% interval below 1 (point estimate alone without one)
                    met = None if rr is None else (c[1] < 1 if c else rr < 1)
                g[f"{a} {how} {b}"] = {"ratio": rr, "ci95": c, "met": met}
    return g


def run(args) -> int:
    from .loader import load_base
    from .plots import evaluation_markdown, plot_skip_rates, write_section

    chosen = [r for r in ROWS if not args.only or r.name in args.only]
    if args.only and len(chosen) != len(args.only):
        raise SystemExit(f"--only: unknown row name(s) {sorted(set(args.only) - {r.name for r in ROWS})}; "
                         f"rows are {[r.name for r in ROWS]}")
    t0 = time.time()
    torch.set_num_threads(args.threads)
    base, _tok, info = load_base(args.base)
    windows = token_windows(Path(args.corpus) / "test.npy", args.windows, args.seq_len)
    out = Path(args.out)
    previous = {}
    if args.reuse and out.is_file():
        previous = {r["name"]: r for r in json.loads(out.read_text()).get("rows", [])}
    rows = evaluate_rows(base, windows, info.sha256, deltas_dir=Path(args.deltas), results_dir=Path(args.results),
                         rows=chosen, batch=args.batch, threshold=args.threshold, previous=previous)
    res = {
        "command": f"cd training && ../.venv/bin/python -m skipgpt evaluate --windows {args.windows} "
                   f"--seq-len {args.seq_len}" + (" --only " + " ".join(f"'{n}'" for n in args.only) if args.only else "")
                   + ("" if args.section == "evaluation" else f" --section {args.section} --out "
                      f"{_show(Path(args.out))} --img {_show(Path(args.img))}"),
        "machine": f"{platform.machine()}, 2 shared cores, {torch.get_num_threads()} torch threads, no GPU",
        "subset": {"split": "test", "file": "data/corpus/test.npy", "windows": args.windows, "seq_len": args.seq_len,
                   "tokens": int(windows.numel()), "tokens_scored": int(windows[:, 1:].numel()),
                   "what": f"the first {args.windows}×{args.seq_len} tokens of test.npy as non-overlapping windows; "
                           f"each window predicts its tokens 1..{args.seq_len - 1}"},
        "threshold": args.threshold, "decisions": "argmax (execute iff p_execute >= threshold)",
        "base": info.to_dict(),
        "sublayer_params": {"attn": sublayer_params(base)[0][0], "mlp": sublayer_params(base)[0][1],
                            "attn_qo": qo_params(base)[0]},
        "rows": rows, "goals": goals(rows),
    }
    res["wall_s"] = round(time.time() - t0, 1)
    # What a run from scratch costs: load + every row's own evaluation time (reused rows keep theirs).
    res["eval_s_all_rows"] = round(sum(r.get("eval_wall_s", 0) for r in rows), 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    png = Path(args.img)
    plot_skip_rates(rows, png)
    doc = Path(args.doc).resolve()
    write_section(doc, args.section, evaluation_markdown(res, Path(os.path.relpath(png.resolve(), doc.parent))))
    print(json.dumps({r["name"]: r.get("ppl", r["status"]) for r in rows}, indent=1))
    return 0


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="perplexity and realised skip fractions of all trained configurations")
    p.add_argument("--base", default="default", help="'default', a .gguf file or a Llama folder")
    p.add_argument("--corpus", default=str(REPO / "data/corpus"), help="folder with test.npy")
    p.add_argument("--deltas", default=str(REPO / "training/deltas"))
    p.add_argument("--results", default=str(REPO / "training/results"), help="folder with the ShortGPT masks")
    p.add_argument("--windows", type=int, default=16, help="windows from the start of test.npy")
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-reuse", dest="reuse", action="store_false",
                   help="recompute every row (default: reuse rows of --out whose fingerprint matches)")
    p.add_argument("--out", default=str(REPO / "training/results/eval.json"))
    p.add_argument("--img", default=str(REPO / "docs/img/skip_rates.png"))
    p.add_argument("--doc", default=str(REPO / "docs/EVALUATION.md"))
    p.add_argument("--section", default="evaluation", help="name of the generated section in --doc")
    p.add_argument("--only", nargs="+", metavar="ROW", help="evaluate only these rows (names as in the table)")
    p.set_defaults(func=run)
