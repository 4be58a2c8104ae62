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
    """Per-layer attention and MLP skip rates of every evaluated configuration that skips (one panel per target)."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on build machines
    import matplotlib.pyplot as plt
    import numpy as np

    targets = ["25%", "40%"]
    fig, axes = plt.subplots(len(targets), 1, figsize=(10, 3.2 * len(targets)), sharex=True)
    for ax, tgt in zip(axes, targets):
        ok = [r for r in rows if r["status"] == "ok" and r["name"].endswith(tgt)]
        for r, ls in zip(ok, ["-", "--", ":", "-."]):
            rates = np.asarray(r["skip_rate"])
            x = np.arange(len(rates))
            ax.plot(x, rates[:, 0], ls, marker="o", ms=3, color="tab:blue", label=f"{r['name']} · attention")
            ax.plot(x, rates[:, 1], ls, marker="s", ms=3, color="tab:orange", label=f"{r['name']} · MLP")
        ax.set_title(f"target {tgt} of sublayer executions skipped" + ("" if ok else " (no evaluated rows)"))
        ax.set_ylabel("skip rate over test tokens")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
        if ok:
            ax.legend(fontsize=7, ncol=2, loc="upper left")
    axes[-1].set_xlabel("layer")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _stage(r: dict, name: str) -> str:
    st = r.get("training", {}).get(name)
    return f"{st['tokens_seen'] / 1e3:.0f}k / {st['wall_s'] / 60:.1f} min" if st else ""


def evaluation_markdown(res: dict, img_rel: Path) -> str:
    sub = res["subset"]
    ref = next((r["ppl"] for r in res["rows"] if r["name"] == "dense+LoRA" and r["status"] == "ok"), None)
    lines = [
        f"Command: `{res['command']}` ({res['machine']}; whole run {res['wall_s'] / 60:.1f} min). "
        f"Subset: {sub['what']} ({sub['tokens_scored']} scored tokens, same tokens for every row). "
        f"Decisions: {res['decisions']}, threshold {res['threshold']}. Sublayer sizes read from the model: "
        f"attention {res['sublayer_params']['attn'] / 1e6:.3f}M (q+o {res['sublayer_params']['attn_qo'] / 1e6:.3f}M), "
        f"MLP {res['sublayer_params']['mlp'] / 1e6:.3f}M per layer.",
        "",
        "| configuration | PPL | vs dense+LoRA | skipped (count) | skipped (params) | weights not read, K/V kept "
        "| attn / MLP skipped | stage 1 tokens / wall | stage 2 tokens / wall |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        if r["status"] != "ok":
            lines.append(f"| {r['name']} | missing | | | | | | {r['reason']} | |")
            continue
        s = r["skip"]
        rel = f"{r['ppl'] / ref - 1:+.1%}" if ref else ""
        lines.append(f"| {r['name']} | {r['ppl']:.3f} | {rel} | {s['count']:.1%} | {s['params']:.1%} | "
                     f"{s['weights_read']:.1%} | {s['attn']:.0%} / {s['mlp']:.0%} | {_stage(r, 'stage1')} | "
                     f"{_stage(r, 'stage2')} |")
    lines += ["", "Goals from the issue (ratio = PPL of the first / PPL of the second):", ""]
    for k, g in res["goals"].items():
        verdict = "not measured (row missing)" if g["met"] is None else ("met" if g["met"] else "**not met**")
        ratio = "" if g["ratio"] is None else f" (ratio {g['ratio']:.3f})"
        lines.append(f"- {k}: {verdict}{ratio}")
    lines += ["", f"![per-layer skip rates]({img_rel})", "",
              "*weights not read, K/V kept*: a skipped attention still computes K/V for the cache (see "
              "shared notes), so only q_proj/o_proj are saved; this is the fraction of decoder-layer weights a "
              "decode step does not read."]
    return "\n".join(lines)
