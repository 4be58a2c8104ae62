"""ShortGPT baseline: Block Influence (BI) of every layer and sublayer on calibration text, and the static
execute masks that drop the lowest-BI layers until a target fraction of sublayer executions is gone.

`python -m skipgpt shortgpt` writes training/results/shortgpt{25,40}_mask.json ({"executed": [[attn, mlp], ...]}),
which SkipLlama evaluates with mode="static" and train.py fine-tunes with `--lora-only static --static-mask-file`.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[2]


def _llama(model):
    """The LlamaForCausalLM inside a plain model or a SkipLlama."""
    return model._llama() if hasattr(model, "_llama") else model


@torch.no_grad()
def block_influence(model, windows: torch.Tensor, batch: int = 4) -> dict[str, list[float]]:
    """BI = 1 − mean over tokens of cos(input, output), for each layer (x_l → x_{l+1}) and each sublayer
    (attention: x_l → h_l = x_l + Attn; MLP: h_l → x_{l+1}). Computed from the dense model's residual stream,
    read with pre-hooks on the norms: input_layernorm sees x_l, post_attention_layernorm sees h_l, and the final
    norm sees x_L (HF's output_hidden_states would give the *normed* last state, which is not x_L)."""
    llama = _llama(model)
    layers, L = llama.model.layers, llama.config.num_hidden_layers
    states: dict[tuple[str, int], torch.Tensor] = {}

    def grab(key):
        def hook(_mod, args):
            states[key] = args[0].detach().float()
        return hook

    handles = [llama.model.norm.register_forward_pre_hook(grab(("x", L)))]
    for i, layer in enumerate(layers):
        handles.append(layer.input_layernorm.register_forward_pre_hook(grab(("x", i))))
        handles.append(layer.post_attention_layernorm.register_forward_pre_hook(grab(("h", i))))
    sums = {k: torch.zeros(L, dtype=torch.float64) for k in ("layer", "attn", "mlp")}
    n = 0
    try:
        for start in range(0, windows.shape[0], batch):
            ids = windows[start:start + batch]
            states.clear()
            llama(input_ids=ids)
            for i in range(L):
                x, h, y = states[("x", i)], states[("h", i)], states[("x", i + 1)]
                sums["layer"][i] += F.cosine_similarity(x, y, dim=-1).double().sum()
                sums["attn"][i] += F.cosine_similarity(x, h, dim=-1).double().sum()
                sums["mlp"][i] += F.cosine_similarity(h, y, dim=-1).double().sum()
            n += ids.numel()
    finally:
        for hd in handles:
            hd.remove()
    return {k: (1.0 - v / n).tolist() for k, v in sums.items()}


def shortgpt_mask(bi: dict[str, list[float]], target: float) -> tuple[list[list[bool]], dict]:
    """Static execute mask [L][attn, mlp] removing round(target·2L) sublayers.

    Whole layers go first, lowest layer-BI first (ShortGPT). When the sublayer count is odd (25% of 60 = 15 =
    7.5 layers) the last half layer is the single sublayer, attention or MLP, with the lowest sublayer BI among
    the layers still kept. This stays at exactly the target count fraction, which is how SkipGPT's target is
    defined, instead of rounding to 7 or 8 whole layers (23% or 27%)."""
    L = len(bi["layer"])
    if not 0.0 <= target < 1.0:
        raise ValueError(f"target skip fraction must be in [0, 1), got {target}")
    n_sub = round(target * 2 * L)
    order = sorted(range(L), key=lambda i: bi["layer"][i])
    removed_layers = sorted(order[: n_sub // 2])
    mask = [[True, True] for _ in range(L)]
    for i in removed_layers:
        mask[i] = [False, False]
    extra = None
    if n_sub % 2:
        kept = [i for i in range(L) if i not in removed_layers]
        cands = [(bi["attn"][i], i, 0) for i in kept] + [(bi["mlp"][i], i, 1) for i in kept]
        _, li, kind = min(cands)
        mask[li][kind] = False
        extra = {"layer": li, "sublayer": ("attn", "mlp")[kind]}
    info = {"target": target, "removed_sublayers": n_sub, "removed_layers": removed_layers, "extra_sublayer": extra}
    return mask, info


def mask_fraction(mask: list[list[bool]], params: list[list[int]] | None = None) -> float:
    """Fraction of sublayers skipped by a static mask; weighted by params[l][kind] when given."""
    if params is None:
        params = [[1, 1] for _ in mask]
    tot = sum(a + m for a, m in params)
    return sum(p for row, prow in zip(mask, params) for ex, p in zip(row, prow) if not ex) / tot


def run(args) -> int:
    from .evaluate import sublayer_params, token_windows
    from .loader import load_base

    t0 = time.time()
    torch.set_num_threads(args.threads)
    model, _tok, info = load_base(args.base)
    windows = token_windows(Path(args.corpus) / "val.npy", args.windows, args.seq_len)
    bi = block_influence(model, windows)
    params = sublayer_params(model)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    from .evaluate import _show

    calib = {"split": "val", "file": _show(Path(args.corpus) / "val.npy"), "windows": args.windows,
             "seq_len": args.seq_len, "tokens": int(windows.numel()),
             "what": f"the first {args.windows}×{args.seq_len} tokens of val.npy in non-overlapping windows"}
    summary = {}
    for pct in args.targets:
        mask, sel = shortgpt_mask(bi, pct / 100)
        doc = {
            "executed": mask,
            "method": "ShortGPT block influence (1 - mean cos(x_l, x_l+1)); whole layers lowest-BI first, odd "
                      "remainder = lowest sublayer-BI attention/MLP among kept layers",
            **sel,
            "skip_fraction_count": mask_fraction(mask),
            "skip_fraction_params": mask_fraction(mask, params),
            "calibration": calib, "base": info.to_dict(),
            "block_influence": bi,
        }
        path = out_dir / f"shortgpt{pct}_mask.json"
        path.write_text(json.dumps(doc, indent=1) + "\n")
        summary[path.name] = {k: doc[k] for k in ("removed_layers", "extra_sublayer", "skip_fraction_count",
                                                   "skip_fraction_params")}
    print(json.dumps({"wall_s": round(time.time() - t0, 1), **summary}, indent=1))
    return 0


def register(sub) -> None:
    p = sub.add_parser("shortgpt", help="ShortGPT baseline: block influence and static skip masks")
    p.add_argument("--base", default="default", help="'default', a .gguf file or a Llama folder")
    p.add_argument("--corpus", default=str(REPO / "data/corpus"), help="folder with val.npy (skipgpt corpus)")
    p.add_argument("--windows", type=int, default=16, help="calibration windows taken from the start of val.npy")
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--targets", type=int, nargs="+", default=[25, 40], help="skip targets in percent")
    p.add_argument("--out-dir", default=str(REPO / "training/results"))
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=run)

