"""`--quant gguf`: the GGUF base's own quantized blocks, re-encoded for onnxruntime's MatMulNBits without rounding
again. Round-to-nearest re-quantization of the dequantized Q4_1 weights onto MatMulNBits' grid cost +45% perplexity
(docs/EXPORT.md); this keeps every base weight bit-identical to what PyTorch evaluates.

- Q4_0 (w = d·(q-8)) and Q8_0 (w = d·q) map exactly onto MatMulNBits' symmetric form (default zero point 8 / 128).
- Q4_1 (w = d·q + m) has a per-block minimum that MatMulNBits' integer zero points cannot hold, so it is split:
  d·(q-8) goes to a 4-bit MatMulNBits and the block constant c = m + 8d is added as Σ_block(x)·c, a small float32
  MatMul over the block sums of x ([K/32, N] floats, 1/32 of the weights' size).
- Weights the deltas changed (LoRA merged into q/v/gate) differ from the base by a low-rank matrix: it is recovered
  by SVD and added as x·A·B (rank <= 64), so the base stays exact and the adapter stays float32.
- Float tensors (F32/F16/BF16) stay float32 MatMuls. Other block types (K-quants, IQ...) are refused with a message.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .deltas import BuildError

BLOCK = 32
MAX_ADAPTER_RANK = 64
_FLOAT_TYPES = ("F32", "F16", "BF16")


@dataclass
class QuantLinear:
    """x [M, K] @ W [K, N] as MatMulNBits (+ block offsets, + low-rank adapter)."""
    k: int
    n: int
    bits: int
    blocks: np.ndarray  # uint8 [N, K/32, 32*bits/8], MatMulNBits' B
    scales: np.ndarray  # float32 [N * K/32]
    block_offset: np.ndarray | None = None  # float32 [K/32, N]: Q4_1's m + 8d, multiplied by block sums of x
    adapter_a: np.ndarray | None = None  # float32 [K, r]
    adapter_b: np.ndarray | None = None  # float32 [r, N]
    kind: str = ""  # GGUF block type, for logs and the manifest

    def dequantize(self) -> np.ndarray:
        """W [K, N] this encodes (for tests and the build's exactness check)."""
        q = _unpack(self.blocks, self.bits).astype(np.float32) - 2 ** (self.bits - 1)
        w = q * self.scales.reshape(self.n, -1, 1)
        if self.block_offset is not None:
            w = w + self.block_offset.T[:, :, None]
        w = w.reshape(self.n, self.k).T
        if self.adapter_a is not None:
            w = w + self.adapter_a @ self.adapter_b
        return w


def _unpack(blocks: np.ndarray, bits: int) -> np.ndarray:
    if bits == 8:
        return blocks
    out = np.empty(blocks.shape[:-1] + (BLOCK,), np.uint8)
    out[..., 0::2], out[..., 1::2] = blocks & 0x0F, blocks >> 4  # MatMulNBits: element 2i low nibble, 2i+1 high
    return out


def _decode(raw: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """GGUF rows [N, bytes] -> (q [N, K/32, 32] uint8 codes, d [N, K/32], m [N, K/32] or None) in float32.
    Block layouts (ggml): Q4_0 = d f16, 16 bytes (element j low nibble, j+16 high); Q4_1 = d f16, m f16, 16 bytes;
    Q8_0 = d f16, 32 int8."""
    size = {"Q4_0": 18, "Q4_1": 20, "Q8_0": 34}[kind]
    b = raw.reshape(raw.shape[0], -1, size)
    d = b[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32)
    if kind == "Q8_0":
        return (b[..., 2:].view(np.int8).astype(np.int16) + 128).astype(np.uint8), d, None
    m = b[..., 2:4].copy().view(np.float16)[..., 0].astype(np.float32) if kind == "Q4_1" else None
    qs = b[..., 4:] if kind == "Q4_1" else b[..., 2:]
    return np.concatenate([qs & 0x0F, qs >> 4], axis=-1), d, m


def _pack(q: np.ndarray, bits: int) -> np.ndarray:
    return q if bits == 8 else (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)


class GgufBlocks:
    """The raw tensors of one GGUF file, by llama.cpp name."""

    def __init__(self, path: str | Path):
        import gguf

        self.path = Path(path)
        reader = gguf.GGUFReader(str(path))
        self.tensors = {t.name: t for t in reader.tensors}

    def kind(self, name: str) -> str:
        return self.tensors[name].tensor_type.name

    def linear(self, names: list[str], target: np.ndarray, row_perms: list[np.ndarray | None] | None = None,
               what: str = "") -> QuantLinear | None:
        """Encode the GGUF tensors `names` (concatenated along the output dim, rows permuted by row_perms) as the
        linear whose final float32 weight is target [K, N]; None when they are float tensors (stay MatMul)."""
        kinds = {self.kind(n) for n in names}
        if kinds <= set(_FLOAT_TYPES):
            return None
        if len(kinds) != 1 or next(iter(kinds)) not in ("Q4_0", "Q4_1", "Q8_0"):
            raise BuildError(f"{self.path.name}: {what} is stored as {sorted(kinds)}; --quant gguf re-encodes Q4_0, "
                             "Q4_1 and Q8_0 blocks only. Use --quant int8 for this base.")
        kind = kinds.pop()
        parts = []
        for i, n in enumerate(names):
            raw = np.asarray(self.tensors[n].data)
            perm = row_perms[i] if row_perms else None
            parts.append(raw if perm is None else raw[perm])
        q, d, m = _decode(np.concatenate(parts, axis=0), kind)
        bits = 8 if kind == "Q8_0" else 4
        n_out, k = q.shape[0], q.shape[1] * BLOCK
        if target.shape != (k, n_out):
            raise BuildError(f"{what}: GGUF blocks give [{k}, {n_out}], the model has {list(target.shape)}")
        offset = None if m is None else (m + 8.0 * d).T.copy()  # d(q-8) + (m+8d) = dq + m
        ql = QuantLinear(k=k, n=n_out, bits=bits, blocks=_pack(q, bits), scales=d.reshape(-1).copy(),
                         block_offset=offset, kind=kind)
        self._attach_adapter(ql, target, what)
        return ql

    @staticmethod
    def _attach_adapter(ql: QuantLinear, target: np.ndarray, what: str) -> None:
        """target - base = 0 (untouched) or a low-rank update (merged LoRA): recover it as float32 A·B."""
        delta = target.astype(np.float64) - ql.dequantize().astype(np.float64)
        scale = float(np.abs(target).max()) or 1.0
        if np.abs(delta).max() <= 1e-6 * scale:
            return
        u, s, vt = np.linalg.svd(delta, full_matrices=False)
        r = int((s > 1e-4 * s[0]).sum())
        residual = np.abs(delta - (u[:, :r] * s[:r]) @ vt[:r]).max()
        if r > MAX_ADAPTER_RANK or residual > 1e-5 * scale:
            raise BuildError(f"{what}: the weights differ from the GGUF base by more than a low-rank update "
                             f"(rank {r}, residual {residual:.2e}); --quant gguf needs base + LoRA. Use --quant int8.")
        root = np.sqrt(s[:r])
        ql.adapter_a = (u[:, :r] * root).astype(np.float32)
        ql.adapter_b = (root[:, None] * vt[:r]).astype(np.float32)


def rope_row_order(rows: int, heads: int) -> np.ndarray:
    """GGUF row for each Hugging Face row of attn_q/attn_k: llama.cpp's converter interleaves the two RoPE halves of
    every head (transformers undoes it on load); the same reordering applies to whole quantized rows."""
    idx = np.arange(rows)
    converted = idx.reshape(heads, 2, rows // heads // 2).swapaxes(1, 2).reshape(rows)  # HF row at each GGUF row
    return np.argsort(converted)


def requantize_from_gguf(w, path: str | Path, log=print):
    """Replace the linear weights of ExportWeights `w` (merged, float32) by QuantLinears over the GGUF's blocks: the
    layers' q, kv, o, gate_up, down and the LM head (token_embd when tied). Returns (w, manifest Quantization)."""
    from .manifest import Quantization

    g = GgufBlocks(path)
    d = w.dims
    q_rows, k_rows = rope_row_order(d.heads * d.head_dim, d.heads), rope_row_order(d.kv_heads * d.head_dim, d.kv_heads)
    kinds, adapters = set(), 0
    for i, lw in enumerate(w.layers):
        b = f"blk.{i}."
        specs = {"wq": ([b + "attn_q.weight"], [q_rows]),
                 "wkv": ([b + "attn_k.weight", b + "attn_v.weight"], [k_rows, None]),
                 "wo": ([b + "attn_output.weight"], None),
                 "w_gate_up": ([b + "ffn_gate.weight", b + "ffn_up.weight"], None),
                 "w_down": ([b + "ffn_down.weight"], None)}
        for field, (names, perms) in specs.items():
            ql = g.linear(names, getattr(lw, field), perms, what=f"layer {i} {field}")
            if ql is not None:
                setattr(lw, field, ql)
                kinds.add(ql.kind)
                adapters += ql.adapter_a is not None
        if (i + 1) % 10 == 0:
            log(f"quantize: layer {i + 1}/{d.layers} re-encoded from GGUF blocks")
    head_name = "token_embd.weight" if w.lm_head is None else "output.weight"
    head = w.embed if w.lm_head is None else w.lm_head
    w.head_quant = g.linear([head_name], np.ascontiguousarray(head.T), None, what="LM head")
    groups = [f"layers:{'+'.join(sorted(kinds))}"]
    if w.head_quant is not None:
        groups.append(f"lm_head:{w.head_quant.kind}")
    log(f"quantize: GGUF blocks {sorted(kinds)} re-encoded exactly for MatMulNBits; {adapters} linears carry a "
        "float32 low-rank adapter (merged LoRA recovered by SVD)")
    return w, Quantization(method="MatMulNBits", bits=4 if kinds & {"Q4_0", "Q4_1"} else 8, block_size=BLOCK,
                           weights=groups)
