"""`python -m skipgpt forecast fit|eval`: fit execute-or-approximate forecasters (forecast.py) for a routed delta
folder, and score routed vs routed+forecast (vs dense+LoRA) on the evaluation's test windows.

fit  writes <deltas>/forecasters.safetensors (+ forecasters.json: settings and per-sublayer R² / skip rates);
eval writes training/results/forecast_eval.json and the "forecasters" section of docs/EVALUATION.md.
"""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import torch

from .evaluate import REPO, perplexity, qo_params, ratio_ci, skip_fractions, sublayer_params, token_windows
from .export.deltas import deltas_applied
from .forecast import FILE, fit_forecasters, fit_windows, load_forecasters
from .model import SkipLlama


def _routed(base, folder: Path) -> SkipLlama:
    """base + the folder's LoRA (merged) + routers, as `python -m skipgpt build` assembles it."""
    from .export.deltas import apply_deltas

    skip = SkipLlama(base)
    apply_deltas(skip, folder, log=lambda *_: None)
    return skip.eval()


def run_fit(args) -> int:
    from .loader import load_base

    torch.set_num_threads(args.threads)
    t0 = time.time()
    base, _tok, _info = load_base(args.base)
    folder = Path(args.deltas)
    skip = _routed(base, folder)
    windows = fit_windows(Path(args.corpus) / "train.npy", args.windows, args.seq_len)
    t1 = time.time()
    main, extra, report = fit_forecasters(skip, windows, rank=args.rank, extra_ranks=tuple(args.extra_ranks),
                                          threshold=args.threshold, ridge=args.ridge,
                                          executed_weight=args.executed_weight, batch=args.batch)
    fit_s = time.time() - t1
    main.save(folder / FILE)
    for r, fc in extra.items():  # experiment only: next to the data, not in the deltas folder
        out = Path(args.extra_dir)
        out.mkdir(parents=True, exist_ok=True)
        fc.save(out / f"{folder.name}-r{r}.safetensors")
    meta = {"rank": args.rank, "threshold": args.threshold, "ridge": args.ridge,
            "executed_weight": args.executed_weight, "fit_tokens": int(windows.numel()),
            "fit_text": f"{args.windows} evenly spaced windows of {args.seq_len} tokens of train.npy",
            "fit_wall_s": round(fit_s, 1), "tokens_per_s": round(windows.numel() / fit_s, 1), **report}
    (folder / "forecasters.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {folder / FILE} (rank {args.rank}, {windows.numel()} tokens, fit {fit_s:.0f} s, "
          f"total {time.time() - t0:.0f} s)")
    return 0


def _row(model, windows, name, batch, params, qo, **fwd) -> dict:
    t = time.time()
    res = perplexity(model, windows, batch, **fwd)
    rec = {"name": name, **res, "skip": skip_fractions(res["skip_rate"], params, qo), "wall_s": round(time.time() - t)}
    print(f"{name}: ppl {rec['ppl']:.3f} skip {rec['skip']['count']:.3f} ({rec['wall_s']} s)", flush=True)
    return rec


def run_eval(args) -> int:
    from .loader import load_base
    from .plots import write_section

    torch.set_num_threads(args.threads)
    t0 = time.time()
    base, _tok, _info = load_base(args.base)
    params, qo = sublayer_params(base), qo_params(base)
    windows = token_windows(Path(args.corpus) / "test.npy", args.windows, args.seq_len)
    rows = []
    if args.dense_deltas:
        with deltas_applied(base, Path(args.dense_deltas)) as dense:  # LoRA-only deltas: always-execute routers
            rows.append(_row(dense, windows, "dense+LoRA", args.batch, params, qo, mode="dense"))
    folder = Path(args.deltas)
    skip = _routed(base, folder)
    files = [Path(f) for f in args.forecasters] or [folder / FILE]
    for thr in args.thresholds:
        skip.forecasters = None
        rows.append(_row(skip, windows, f"routed t={thr}", args.batch, params, qo, mode="hard", threshold=thr))
        for f in files:
            for scale in args.scale:
                skip.forecasters = load_forecasters(f, skip.num_layers, skip.config.hidden_size)
                if scale != 1.0:  # diagnostic: shrink every forecast (B and bias scale the output linearly)
                    skip.forecasters.B *= scale
                    skip.forecasters.bias *= scale
                if args.kinds != ["attn", "mlp"]:  # diagnostic: forecast one sublayer kind only
                    for k, kind in enumerate(("attn", "mlp")):
                        if kind not in args.kinds:
                            skip.forecasters.A[:, k] = 0
                            skip.forecasters.bias[:, k] = 0
                label = f"routed+forecast r={skip.forecasters.rank} t={thr}" + (f" [{f.stem}]" if args.forecasters
                                                                                else "")
                label += "" if args.kinds == ["attn", "mlp"] else f" ({'+'.join(args.kinds)} only)"
                label += "" if scale == 1.0 else f" ×{scale:g}"
                rows.append(_row(skip, windows, label, args.batch, params, qo, mode="hard", threshold=thr))
    ref = next((r for r in rows if r["name"] == "dense+LoRA"), None)
    for r in rows:
        if ref is not None and r is not ref:
            r["vs_dense_lora"] = r["ppl"] / ref["ppl"]
            r["ci95"] = ratio_ci(r["window_nll"], ref["window_nll"])
    import shlex
    import sys

    argv = sys.argv[sys.argv.index("eval") + 1:] if "eval" in sys.argv else []
    cmd = "cd training && ../.venv/bin/python -m skipgpt forecast eval " + shlex.join(argv)
    res = {"command": cmd, "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, no GPU",
           "windows": args.windows, "seq_len": args.seq_len, "deltas": str(folder), "rows": rows,
           "fit": json.loads((folder / "forecasters.json").read_text()) if (folder / "forecasters.json").is_file()
           else None, "wall_s": round(time.time() - t0)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    if args.section:
        write_section(Path(args.doc), args.section, markdown(res))
    return 0


def markdown(res: dict) -> str:
    fit = res.get("fit") or {}
    lines = [f"Command: `{res['command']}` ({res['machine']}); {res['windows']}×{res['seq_len']} test tokens "
             f"(the evaluation's windows), {res['wall_s']} s. Forecasters: rank {fit.get('rank')}, fitted on "
             f"{fit.get('fit_tokens')} train-split tokens at threshold {fit.get('threshold')} "
             f"({fit.get('fit_wall_s')} s), ridge {fit.get('ridge')}, executed-token weight "
             f"{fit.get('executed_weight')}.", "",
             "| configuration | PPL | vs dense+LoRA (95% CI) | skipped (count) | weights not read, K/V kept | "
             "attn / MLP skipped |", "|---|---|---|---|---|---|"]
    for r in res["rows"]:
        ci = r.get("ci95")
        vs = f"{r['vs_dense_lora']:.3f}× ({ci[0]:.2f}–{ci[1]:.2f})" if ci else ""
        s = r["skip"]
        lines.append(f"| {r['name']} | {r['ppl']:.3f} | {vs} | {s['count']:.1%} | {s.get('weights_read', 0):.1%} | "
                     f"{s['attn']:.0%} / {s['mlp']:.0%} |")
    return "\n".join(lines)


def register(sub) -> None:
    p = sub.add_parser("forecast", help="execute-or-approximate forecasters: fit, or evaluate perplexity")
    sp = p.add_subparsers(dest="forecast_cmd", required=True)
    for name, fn in (("fit", run_fit), ("eval", run_eval)):
        q = sp.add_parser(name)
        q.add_argument("--base", default="default")
        q.add_argument("--deltas", default=str(REPO / "training/deltas/smollm2-135m-skip25-long-lora6-lff"))
        q.add_argument("--corpus", default=str(REPO / "data/corpus"))
        q.add_argument("--seq-len", type=int, default=256)
        q.add_argument("--batch", type=int, default=4)
        q.add_argument("--threads", type=int, default=2)
        q.set_defaults(func=fn)
        if name == "fit":
            q.add_argument("--windows", type=int, default=64, help="evenly spaced train.npy windows to fit on")
            q.add_argument("--rank", type=int, default=64)
            q.add_argument("--extra-ranks", type=int, nargs="*", default=[])
            q.add_argument("--extra-dir", default=str(REPO / "data/forecasters"))
            q.add_argument("--threshold", type=float, default=0.5)
            q.add_argument("--ridge", type=float, default=1e-3)
            q.add_argument("--executed-weight", type=float, default=0.05)
        else:
            q.add_argument("--windows", type=int, default=16, help="test.npy windows (as `skipgpt evaluate`)")
            q.add_argument("--thresholds", type=float, nargs="+", default=[0.5])
            q.add_argument("--forecasters", nargs="*", default=[], help="files to compare (default: the folder's)")
            q.add_argument("--scale", type=float, nargs="+", default=[1.0],
                           help="multiply every forecast by each of these (diagnostic; one row per value)")
            q.add_argument("--kinds", nargs="+", default=["attn", "mlp"], choices=["attn", "mlp"],
                           help="which sublayer kinds add their forecast (diagnostic)")
            q.add_argument("--dense-deltas", default=str(REPO / "training/deltas/smollm2-135m-dense-lora"))
            q.add_argument("--out", default=str(REPO / "training/results/forecast_eval.json"))
            q.add_argument("--doc", default=str(REPO / "docs/EVALUATION.md"))
            q.add_argument("--section", default="", help="generated section of --doc to (re)write")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
