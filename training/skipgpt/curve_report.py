"""The curve's report: markdown table, goals and the plot from training/results/curve.json (curve.py writes it).

`python -m skipgpt curve-report [--speed FILE]` rewrites the `curve` section of docs/EVALUATION.md and
docs/img/curve.png. Speed (decode tokens/s of the exported model at each target, the real runtime) comes from
`node scripts/bench/sparsity-dial.mjs --json FILE`, when given.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .evaluate import REPO, paired_diff_ci, ratio_ci
from .plots import write_section


def _em(row) -> list[float]:
    return [float(t["em"]) for t in row["tasks"]]


def _es(row) -> list[float]:
    return [t["es"] for t in row["tasks"]]


def _ci(lo_hi, fmt="{:+.3f}") -> str:
    return f"{fmt.format(lo_hi[0] + 0.0)}…{fmt.format(lo_hi[1] + 0.0)}"  # + 0.0: no "-0.000"


def systems(rows: dict) -> list[str]:
    seen = []
    for r in rows.values():
        s = r.get("system")
        if s and s not in seen and s not in ("dense", "dense+LoRA"):
            seen.append(s)
    return seen


def table(res: dict, speed: dict | None) -> tuple[str, list[str]]:
    rows = res["rows"]
    dense = rows["dense"]
    dl = rows.get("dense+LoRA")
    head = ("| target | system | skipped: PPL text / next-line prefill / decode | PPL (÷ dense) | exact match | "
            "÷ dense (diff, 95% CI) | edit sim. | ÷ dense (diff, 95% CI) | vs ShortGPT: EM diff | ES diff | "
            "PPL ratio | decode tok/s |")
    out = [head, "|" + "---|" * (head.count("|") - 1)]

    def tok_s(target):
        dense_s = (speed or {}).get("dense_decode_tok_s")
        if target == 0:
            return f"{dense_s:.1f}" if dense_s else ""
        hit = [p["decode_tok_s"] for p in (speed or {}).get("targets", []) if abs(p["target"] - target) < 1e-9]
        if not hit:
            return ""
        return f"{hit[0]:.1f}" + (f" ({hit[0] / dense_s:.2f}×)" if dense_s else "")

    def line(name, r, target):
        sk = r["skip"]["count"]
        pre = r["nextline_skip_prefill"]["count"]
        dec = r["nextline_skip_decode"]["count"] if r.get("nextline_skip_decode") else float("nan")
        em, es = r["exact_match"], r["edit_similarity"]
        vs_d = es_d = vs_s = es_s = ppl_s = ""
        if name != "dense":
            vs_d = f"{em / dense['exact_match']:.2f}× ({_ci(paired_diff_ci(_em(r), _em(dense)))})"
            es_d = f"{es / dense['edit_similarity']:.2f}× ({_ci(paired_diff_ci(_es(r), _es(dense)))})"
        sg = rows.get(f"ShortGPT {target:.0%}")
        if r.get("system") not in (None, "dense", "ShortGPT", "dense+LoRA") and sg:
            vs_s = f"{em - sg['exact_match']:+.3f} ({_ci(paired_diff_ci(_em(r), _em(sg)))})"
            es_s = f"{es - sg['edit_similarity']:+.3f} ({_ci(paired_diff_ci(_es(r), _es(sg)))})"
            rc = ratio_ci(r["window_nll"], sg["window_nll"])
            ppl_s = f"{r['ppl'] / sg['ppl']:.2f} ({_ci(rc, '{:.2f}')})"
        # The speed bench ran one model (the speed file's `system`, default "routed"): only its rows get a speed.
        speed_cell = tok_s(0.0) if name == "dense" else \
            (tok_s(target) if speed and r.get("system") == speed.get("system", "routed") else "")
        tgt = "—" if target == 0 else f"{target:.0%}"
        out.append(f"| {tgt} | {name} | {sk:.1%} / {pre:.1%} / {dec:.1%} | {r['ppl']:.2f} "
                   f"({r['ppl'] / dense['ppl']:.2f}×) | {em:.3f} | {vs_d} | {es:.3f} | {es_d} | {vs_s} | {es_s} | "
                   f"{ppl_s} | {speed_cell} |")

    line("dense", dense, 0.0)
    if dl:
        line("dense+LoRA", dl, 0.0)
    targets = sorted({r["target"] for r in rows.values() if r.get("target")})
    routed = [x for x in systems(rows) if x != "ShortGPT"]
    goals = []
    for t in targets:
        for s in ["ShortGPT"] + routed:
            r = rows.get(f"{s} {t:.0%}")
            if r:
                line(s, r, t)
    ref = dl or dense
    for s in routed:
        for t in targets:
            r = rows.get(f"{s} {t:.0%}")
            if not r or t < 0.20:  # the goal's rates (the realised rate is in the line)
                continue
            em_ok = r["exact_match"] >= 0.9 * dense["exact_match"]
            ppl_ok = r["ppl"] <= 1.10 * ref["ppl"]
            goals.append(f"{s} at {t:.0%} ({r['skip']['count']:.1%} skipped): exact match "
                         f"{r['exact_match'] / dense['exact_match']:.2f}× dense (edit similarity "
                         f"{r['edit_similarity'] / dense['edit_similarity']:.2f}×; goal ≥ 0.9: "
                         f"{'met' if em_ok else 'not met'}), perplexity {r['ppl'] / ref['ppl']:.2f}× "
                         f"{'dense+LoRA' if dl else 'dense'} (goal ≤ 1.10: {'met' if ppl_ok else 'not met'})")
    for s in routed:
        em_ok, es_ok, ppl_ok, n = 0, 0, 0, 0
        for t in targets:
            r, sg = rows.get(f"{s} {t:.0%}"), rows.get(f"ShortGPT {t:.0%}")
            if not (r and sg):
                continue
            n += 1
            em_ok += paired_diff_ci(_em(r), _em(sg))[0] > 0
            es_ok += paired_diff_ci(_es(r), _es(sg))[0] > 0
            ppl_ok += ratio_ci(r["window_nll"], sg["window_nll"])[1] < 1
        if n:
            goals.append(f"{s} clearly better than ShortGPT at every rate (whole 95% interval on the better side): "
                         f"exact match at {em_ok} of {n} rates, edit similarity at {es_ok} of {n}, perplexity at "
                         f"{ppl_ok} of {n} ({'met' if em_ok == es_ok == ppl_ok == n else 'not met'})")
    return "\n".join(out), goals


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = res["rows"]
    dense = rows["dense"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for s in systems(rows):
        pts = sorted((r for r in rows.values() if r.get("system") == s), key=lambda r: r["target"])
        x = [100 * r["skip"]["count"] for r in pts]
        for ax, key in zip(axes, ("exact_match", "edit_similarity", "ppl")):
            y = [r[key] for r in pts]
            if key == "exact_match":
                err = [np.percentile(np.random.default_rng(0).choice(_em(r), (1000, len(r["tasks"]))).mean(1),
                                     [2.5, 97.5]) for r in pts]
                ax.errorbar(x, y, yerr=np.abs(np.array(err).T - y), marker="o", capsize=3, label=s)
            else:
                ax.plot(x, y, marker="o", label=s)
    for ax, key, title in zip(axes, ("exact_match", "edit_similarity", "ppl"),
                              ("next-line exact match", "next-line edit similarity", "test perplexity (log)")):
        ax.axhline(dense[key], color="k", ls="--", lw=1, label="dense")
        if key == "exact_match":
            ax.axhline(0.9 * dense[key], color="k", ls=":", lw=1, label="0.9 × dense (goal)")
        ax.set_xlabel("sublayers skipped, % (measured on the perplexity text)")
        ax.set_title(title)
        if key == "ppl":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"SmolLM2-135M: quality vs skip rate ({res['n_tasks']} held-out next-line tasks, "
                 f"{res['windows']}×{res['seq_len']} test tokens)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(res: dict, speed: dict | None, img_rel: str) -> str:
    body, goals = table(res, speed)
    cal = [f"{k.removesuffix(' calibration')}: {v['wall_s']} s" for k, v in res["rows"].items()
           if k.endswith(" calibration")]
    lines = [f"Command: `{res.get('command', 'python -m skipgpt curve')}` ({res.get('machine', '')}, "
             f"{res['threads']} torch threads). Tasks: {res['n_tasks']} (`{Path(res['tasks_file']).name}`, sha256 "
             f"{res['tasks_sha256'][:16]}); perplexity: the first {res['windows']}×{res['seq_len']} test tokens "
             f"(the evaluation's windows); greedy, at most {res['max_new']} new tokens, fp32, KV cache. "
             f"Dial calibration in PyTorch ({', '.join(cal)}).", ""]
    if speed:
        lines += [f"Decode tokens/s: `{speed.get('command', '')}` ({speed.get('machine', '')}), the exported "
                  f"8-bit model at each target, the same prompts for every row.", ""]
    lines += [body, "", "Goals (at ≥ 20% of sublayers skipped):", ""] + [f"- {g}" for g in goals]
    lines += ["", f"![quality vs skip rate]({img_rel})"]
    return "\n".join(lines)


def run(args) -> int:
    res = json.loads(Path(args.results[0]).read_text())
    for extra in args.results[1:]:  # rows computed by another `curve` process (same tasks and windows required)
        more = json.loads(Path(extra).read_text())
        if (more["tasks_sha256"], more["windows"], more["seq_len"]) != (res["tasks_sha256"], res["windows"],
                                                                       res["seq_len"]):
            raise SystemExit(f"{extra}: other tasks or windows than {args.results[0]}; its rows are not comparable")
        res["rows"].update({k: v for k, v in more["rows"].items() if k not in res["rows"]})
        res["command"] += f"; {more['command']}"
    speed = json.loads(Path(args.speed).read_text()) if args.speed else None
    png = Path(args.img)
    plot(res, png)
    doc = Path(args.doc).resolve()
    write_section(doc, args.section, markdown(res, speed, os.path.relpath(png.resolve(), doc.parent)))
    print(f"wrote {png} and the '{args.section}' section of {doc}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("curve-report", help="table, goals and plot of training/results/curve.json")
    p.add_argument("--results", nargs="+", default=[str(REPO / "training/results/curve.json")],
                   help="curve.json files; rows of later files are added (same tasks and windows)")
    p.add_argument("--speed", help="JSON from node scripts/bench/sparsity-dial.mjs --json FILE")
    p.add_argument("--img", default=str(REPO / "docs/img/curve.png"))
    p.add_argument("--doc", default=str(REPO / "docs/EVALUATION.md"))
    p.add_argument("--section", default="curve")
    p.set_defaults(func=run)
