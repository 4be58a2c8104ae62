"""Execute-or-approximate ("informed routing", arXiv 2510.13831): a skipped sublayer's output is not dropped but
forecast by a low-rank linear map of the sublayer's own input, y ≈ x·A·B + c (A: d×r, B: r×d), one per sublayer.

Owns the Forecasters module SkipLlama adds for skipped tokens, its safetensors format (`layers.{i}.{attn,mlp}.{A,B,
bias}`) and the fit (`fit_forecasters`): ridge least squares per sublayer, then the rank-r truncation of the fitted
outputs (reduced-rank regression: the best rank-r map on the fitting data, better than truncating W's own SVD).
Fitting is layer-sequential on the routed model at its threshold: layer l is fitted on the inputs it sees when
every earlier skipped sublayer already adds its forecast, i.e. the distribution seen at inference.
Command (`python -m skipgpt forecast fit|eval`): forecast_cli.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

KINDS = ("attn", "mlp")
FILE = "forecasters.safetensors"


class Forecasters(nn.Module):
    """Per layer and sublayer kind: A [d, r], B [r, d], bias [d] (float32 buffers, never trained by backprop)."""

    def __init__(self, layers: int, hidden: int, rank: int):
        super().__init__()
        self.rank = rank
        self.register_buffer("A", torch.zeros(layers, 2, hidden, rank))
        self.register_buffer("B", torch.zeros(layers, 2, rank, hidden))
        self.register_buffer("bias", torch.zeros(layers, 2, hidden))

    def forward(self, layer: int, kind: str, x: torch.Tensor) -> torch.Tensor:
        k = KINDS.index(kind)
        y = (x.float() @ self.A[layer, k]) @ self.B[layer, k] + self.bias[layer, k]
        return y.to(x.dtype)

    def state_dict_flat(self) -> dict[str, torch.Tensor]:
        out = {}
        for i in range(self.A.shape[0]):
            for k, kind in enumerate(KINDS):
                out[f"layers.{i}.{kind}.A"] = self.A[i, k].contiguous()
                out[f"layers.{i}.{kind}.B"] = self.B[i, k].contiguous()
                out[f"layers.{i}.{kind}.bias"] = self.bias[i, k].contiguous()
        return out

    def save(self, path: Path, dtype=torch.float16) -> Path:
        """fp16 on disk (half the bytes; the fit's own error is far above fp16 rounding); loaded back as fp32."""
        from safetensors.torch import save_file

        save_file({k: v.to(dtype).contiguous() for k, v in self.state_dict_flat().items()}, str(path),
                  metadata={"format": "skipgpt-forecasters", "rank": str(self.rank)})
        return Path(path)

    @classmethod
    def from_flat(cls, sd: dict[str, torch.Tensor], layers: int, hidden: int) -> "Forecasters":
        a0 = sd.get("layers.0.attn.A")
        if a0 is None:
            raise ValueError("forecasters file has no layers.0.attn.A")
        rank = a0.shape[1]
        fc = cls(layers, hidden, rank)
        want = set(fc.state_dict_flat())
        if set(sd) != want:
            missing, extra = sorted(want - set(sd))[:3], sorted(set(sd) - want)[:3]
            raise ValueError(f"forecasters do not fit this model (missing {missing}, unexpected {extra})")
        with torch.no_grad():
            for i in range(layers):
                for k, kind in enumerate(KINDS):
                    for name, buf in (("A", fc.A), ("B", fc.B), ("bias", fc.bias)):
                        t = sd[f"layers.{i}.{kind}.{name}"]
                        if t.shape != buf[i, k].shape:
                            raise ValueError(f"forecaster layers.{i}.{kind}.{name} has shape {tuple(t.shape)}, "
                                             f"model needs {tuple(buf[i, k].shape)}")
                        buf[i, k].copy_(t.float())
        return fc


def load_forecasters(path: Path, layers: int, hidden: int) -> Forecasters:
    from .export.deltas import load_safetensors

    return Forecasters.from_flat(load_safetensors(Path(path)), layers, hidden)


# ------------------------------------------------------------------------------------------------------ fitting

@dataclass
class Stats:
    """Sufficient statistics of one sublayer's regression, x augmented with a constant 1 (the bias)."""
    d: int
    gram: torch.Tensor = field(init=False)  # [d+1, d+1]  Σ w·x̃ x̃ᵀ
    cross: torch.Tensor = field(init=False)  # [d+1, d]   Σ w·x̃ yᵀ
    yy: float = 0.0  # Σ w·|y|²
    n: float = 0.0  # Σ w

    def __post_init__(self):
        self.gram = torch.zeros(self.d + 1, self.d + 1, dtype=torch.float64)
        self.cross = torch.zeros(self.d + 1, self.d, dtype=torch.float64)

    def add(self, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> None:
        """x, y [N, d], w [N] (token weights: 1 for skipped tokens, `executed_weight` for executed ones)."""
        # float32 products per chunk (fast BLAS; a chunk is ~1k tokens), accumulated across chunks in float64.
        xa = torch.cat([x.float(), torch.ones(x.shape[0], 1)], 1)
        xw = xa * w.float()[:, None]
        self.gram += (xw.T @ xa).double()
        self.cross += (xw.T @ y.float()).double()
        self.yy += float((w.double() * y.double().pow(2).sum(1)).sum())
        self.n += float(w.double().sum())


def solve(st: Stats, rank: int, ridge: float = 1e-3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Ridge regression then reduced-rank truncation. Returns A [d, r], B [r, d], bias [d] and R² on the fitting
    data (1 − residual / Σ|y|², i.e. the fraction of the output's energy the forecast recovers)."""
    d = st.d
    if st.n <= 0:
        z = torch.zeros
        return z(d, rank), z(rank, d), z(d), 0.0
    lam = ridge * float(torch.diagonal(st.gram)[:d].mean())  # scale-free: relative to the mean input energy
    reg = st.gram.clone()
    reg[:d, :d] += lam * torch.eye(d, dtype=torch.float64)  # the bias (last row) is not penalised
    W = torch.linalg.solve(reg, st.cross)  # [d+1, d]
    # Reduced rank: project onto the top-r principal directions of the *centred* fitted outputs (the mean goes to
    # the bias, which is not part of the rank-r map), then refit the intercept for the truncated map.
    mx, my = st.gram[d, :d] / st.n, st.cross[d] / st.n
    cxx = st.gram[:d, :d] - st.n * torch.outer(mx, mx)
    Wx = W[:d]
    _, vecs = torch.linalg.eigh(Wx.T @ cxx @ Wx)  # covariance of the fitted outputs [d, d]
    V = vecs[:, -rank:]  # [d, r]
    A, B = Wx @ V, V.T
    bias = my - mx @ A @ B
    Wfull = torch.cat([A @ B, bias[None]], 0)  # [d+1, d]
    resid = st.yy - 2 * float((Wfull * st.cross).sum()) + float((Wfull * (st.gram @ Wfull)).sum())
    r2 = 1.0 - resid / st.yy if st.yy > 0 else 0.0
    return A.float(), B.float(), bias.float(), r2


@torch.no_grad()
def fit_forecasters(model, windows: torch.Tensor, *, rank: int = 64, extra_ranks: tuple[int, ...] = (),
                    threshold: float = 0.5, ridge: float = 1e-3, executed_weight: float = 0.05, batch: int = 4,
                    log=print) -> tuple[Forecasters, dict[int, Forecasters], dict]:
    """Fit one forecaster per sublayer on `windows` [N, S] with `model` (a SkipLlama with routers and LoRA merged)
    routed at `threshold`, layer by layer, so each layer sees the inputs that earlier forecasts produce.
    Token weights: 1 where the sublayer is skipped (where the forecast is used), `executed_weight` where it runs
    (keeps rarely skipped sublayers fitted, and helps at lower thresholds). extra_ranks are solved from the same
    statistics (the trajectory is the main rank's). Returns (main, {rank: extra}, per-sublayer report)."""
    llama = model._llama()
    m = llama.model
    L, d = model.num_layers, model.config.hidden_size
    N, S = windows.shape
    main = Forecasters(L, d, rank)
    extra = {r: Forecasters(L, d, r) for r in extra_ranks}
    report = {"layers": []}
    pos = torch.arange(S).unsqueeze(0)
    h = torch.cat([m.embed_tokens(windows[i:i + batch]) for i in range(0, N, batch)]).float()  # [N, S, d]
    pos_emb = m.rotary_emb(h[:1], position_ids=pos)
    chunks = [slice(i, min(i + batch, N)) for i in range(0, N, batch)]
    for i, layer in enumerate(m.layers[:L]):
        rec = {}
        gates = torch.cat([_gates(model.routers[i], h[c], threshold) for c in chunks])  # [N, S, 2]
        for k, kind in enumerate(KINDS):
            st = Stats(d)
            outs = []
            for c in chunks:
                x = layer.input_layernorm(h[c]) if kind == "attn" else layer.post_attention_layernorm(h[c])
                if kind == "attn":
                    y, _ = layer.self_attn(hidden_states=x, attention_mask=None, position_ids=pos,
                                           position_embeddings=pos_emb)
                else:
                    y = layer.mlp(x)
                g = gates[c][..., k]
                w = (1 - g) + executed_weight * g
                st.add(x.reshape(-1, d), y.reshape(-1, d), w.reshape(-1))
                outs.append((x, y))
            A, B, bias, r2 = solve(st, rank, ridge)
            main.A[i, k], main.B[i, k], main.bias[i, k] = A, B, bias
            for r, fc in extra.items():
                fc.A[i, k], fc.B[i, k], fc.bias[i, k], _ = solve(st, r, ridge)
            skipped = float(1 - gates[..., k].mean())
            rec[kind] = {"skipped": round(skipped, 4), "r2": round(r2, 4)}
            for c, (x, y) in zip(chunks, outs):  # advance the residual stream as inference would
                g = gates[c][..., k:k + 1]
                h[c] = h[c] + g * y + (1 - g) * ((x @ A) @ B + bias)
        report["layers"].append(rec)
        log(f"layer {i}: attn skipped {rec['attn']['skipped']:.2f} R² {rec['attn']['r2']:.3f} | "
            f"mlp skipped {rec['mlp']['skipped']:.2f} R² {rec['mlp']['r2']:.3f}")
    return main, extra, report


def _gates(router, h: torch.Tensor, threshold: float) -> torch.Tensor:
    """Deterministic execute gates [B, S, 2] as SkipLlama's hard mode computes them."""
    la, lm = router(h)
    p = torch.stack([la.softmax(-1)[..., 0], lm.softmax(-1)[..., 0]], dim=-1)
    return (p >= threshold).float()


def fit_windows(path: Path, n_windows: int, seq_len: int) -> torch.Tensor:
    """n_windows evenly spaced windows of the *train* split (held out from nothing the model is scored on; the
    routers/LoRA saw ~1% of train.npy, so these are almost surely unseen too)."""
    tokens = np.load(path, mmap_mode="r")
    starts = np.linspace(0, len(tokens) - seq_len - 1, n_windows, dtype=np.int64)
    return torch.from_numpy(np.stack([np.asarray(tokens[s:s + seq_len], dtype=np.int64) for s in starts]))
