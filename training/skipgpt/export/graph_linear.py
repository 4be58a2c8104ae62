"""linear(): x @ W in the exported graph, for a float32 W (MatMul) or a gguf_blocks.QuantLinear (MatMulNBits over the
GGUF's own blocks, plus Q4_1's block offsets and a merged LoRA's low-rank adapter; see gguf_blocks.py)."""
from __future__ import annotations

import numpy as np

from .graph_builder import MS_DOMAIN, GraphBuilder

ACCURACY_LEVEL = 4  # int8 activations: MLAS's fast CPU kernels (docs/EXPORT.md)


def linear(g: GraphBuilder, x: str, w) -> str:
    """x [M, K] -> [M, N]; node and weight names follow the enclosing scope (/model/layers.0/attn/q_proj/...)."""
    if isinstance(w, np.ndarray):
        return g.op("MatMul", [x, g.weight("weight", w)])
    y = g.op("MatMulNBits", [x, g.weight("weight_blocks", w.blocks), g.weight("weight_scales", w.scales)],
             domain=MS_DOMAIN, K=w.k, N=w.n, bits=w.bits, block_size=32, accuracy_level=ACCURACY_LEVEL)
    if w.block_offset is not None:  # Q4_1: + Σ_block(x) · (m + 8d)
        blocks = g.op("Reshape", [x, g.const([0, w.k // 32, 32])], name="x_blocks")  # [M, K/32, 32]; M may be 0
        sums = g.op("ReduceSum", [blocks, g.const([-1])], name="block_sums", keepdims=0)  # [M, K/32]
        off = g.op("MatMul", [sums, g.weight("block_offset", w.block_offset)], name="block_offset")
        y = g.op("Add", [y, off], name="plus_block_offset")
    if w.adapter_a is not None:  # merged LoRA, recovered as float32 x·A·B
        xa = g.op("MatMul", [x, g.weight("adapter_a", w.adapter_a)], name="adapter_a")
        y = g.op("Add", [y, g.op("MatMul", [xa, g.weight("adapter_b", w.adapter_b)], name="adapter_b")],
                 name="plus_adapter")
    return y
