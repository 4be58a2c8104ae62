"""Outputs for docs/EVALUATION.md: generated markdown sections (between marker comments) and the PNG plots."""
from __future__ import annotations

from pathlib import Path


def write_section(doc: Path, name: str, body: str) -> None:
    """Replace (or append) the block between <!-- BEGIN GENERATED: name --> and <!-- END GENERATED: name -->,
    so re-running a command updates its own section and leaves hand-written text alone."""
    begin, end = f"<!-- BEGIN GENERATED: {name} -->", f"<!-- END GENERATED: {name} -->"
    text = doc.read_text() if doc.exists() else ""
    block = f"{begin}\n{body.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + ("\n\n" if text else "") + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)


def plot_skip_rates(rows: list[dict], path: Path) -> Path:
    """Per-layer skip rates: one row of panels per target (25%, 40%), attention left, MLP right. Routed rows are
    lines (rates over test tokens); ShortGPT rows are shaded bars (0 or 1: a static mask)."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on build machines
    import matplotlib.pyplot as plt
    import numpy as np

    targets = ["25%", "40%"]
    fig, axes = plt.subplots(len(targets), 2, figsize=(12, 3.3 * len(targets)), sharex=True, sharey=True)
    for ti, tgt in enumerate(targets):
        # ShortGPT+LoRA uses the same static mask as ShortGPT, so it adds nothing to this plot.
        ok = [r for r in rows if r["status"] == "ok" and f" {tgt}" in r["name"]
              and not (r["kind"] == "static" and r["lora"])]
        for ki, kind in enumerate(("attention", "MLP")):
            ax = axes[ti, ki]
            for r in ok:
                rates = np.asarray(r["skip_rate"])[:, ki]
                x = np.arange(len(rates))
                if r["kind"] == "static":
                    ax.bar(x, rates, width=0.8, alpha=0.18, color="grey", label=f"{r['name']} (static)")
                else:
                    ls = "-" if "LoRA" in r["name"] else "--"
                    ax.plot(x, rates, ls, marker="o", ms=3, label=f"{r['name']} ({rates.mean():.0%})")
            ax.set_title(f"{kind}, target {tgt}" + ("" if ok else " (no evaluated rows)"), fontsize=10)
            ax.set_ylim(-0.03, 1.03)
            ax.grid(alpha=0.3)
            if ok:
                ax.legend(fontsize=7, loc="upper left")
        axes[ti, 0].set_ylabel("skip rate over test tokens")
    for ax in axes[-1]:
        ax.set_xlabel("layer")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _stage(r: dict, name: str) -> str:
    st = r.get("training", {}).get(name)
    return f"{st['tokens_seen'] / 1e3:.0f}k / {st['wall_s'] / 60:.1f} min" if st else ""


def evaluation_markdown(res: dict, img_rel: Path) -> str:
    sub = res["subset"]
    ok = {r["name"]: r["ppl"] for r in res["rows"] if r["status"] == "ok"}
    lines = [
        f"Command: `{res['command']}` ({res['machine']}). Time: this run {res['wall_s'] / 60:.1f} min; the "
        f"evaluation of all rows took {res['eval_s_all_rows'] / 60:.1f} min plus loading (rows marked ♻ were "
        f"reused from an earlier run with an identical fingerprint: same tokens, base, mask and delta bytes). "
        f"Subset: {sub['what']} ({sub['tokens_scored']} scored tokens, same tokens for every row). "
        f"Decisions: {res['decisions']}, threshold {res['threshold']}. Sublayer sizes read from the model: "
        f"attention {res['sublayer_params']['attn'] / 1e6:.3f}M (q+o {res['sublayer_params']['attn_qo'] / 1e6:.3f}M), "
        f"MLP {res['sublayer_params']['mlp'] / 1e6:.3f}M per layer.",
        "",
        "| configuration | PPL | vs dense | vs dense+LoRA | skipped (count) | skipped (params) | weights not read, K/V kept "
        "| attn / MLP skipped | stage 1 tokens / wall | stage 2 tokens / wall |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        if r["status"] != "ok":
            lines.append(f"| {r['name']} | missing: {r['reason']} | | | | | | | | |")
            continue
        s = r["skip"]
        rel = {ref: f"{r['ppl'] / ok[ref] - 1:+.1%}" if ref in ok and r["name"] != ref else ""
               for ref in ("dense", "dense+LoRA")}
        if not r["lora"]:
            rel["dense+LoRA"] = ""  # a row without LoRA is compared with the dense model only
        lines.append(f"| {r['name']}{' ♻' if r.get('reused') else ''} | {r['ppl']:.3f} | {rel['dense']} | "
                     f"{rel['dense+LoRA']} | {s['count']:.1%} | {s['params']:.1%} | "
                     f"{s['weights_read']:.1%} | {s['attn']:.0%} / {s['mlp']:.0%} | {_stage(r, 'stage1')} | "
                     f"{_stage(r, 'stage2') if r['lora'] else ''} |")
    lines += ["", "Goals from the issue (ratio = PPL of the first / PPL of the second; \"better\" counts as met only "
                  "when the whole 95% interval is below 1):", ""]
    for k, g in res["goals"].items():
        if g["ratio"] is None and any(r["status"] == "ok" for r in res["rows"]) and len(res["rows"]) < 10:
            continue  # a run over selected rows (--only) lists only the goals it measured
        verdict = "not measured (row missing)" if g["met"] is None else ("met" if g["met"] else "**not met**")
        if g["met"] is False and "better than" in k and g["ratio"] < 1:
            verdict = "**not clearly**: lower PPL, but the 95% interval reaches 1"
        ratio = "" if g["ratio"] is None else f" (ratio {g['ratio']:.3f}"
        if g.get("ci95"):
            ratio += f", 95% paired bootstrap over windows {g['ci95'][0]:.3f}–{g['ci95'][1]:.3f}"
        ratio += ")" if ratio else ""
        lines.append(f"- {k}: {verdict}{ratio}")
    lines += ["", f"![per-layer skip rates]({img_rel})", "",
              "*weights not read, K/V kept*: a skipped attention still computes K/V for the cache (see "
              "shared notes), so only q_proj/o_proj are saved; this is the fraction of decoder-layer weights a "
              "decode step does not read."]
    return "\n".join(lines)
