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
    # Q4_1's block offsets (Σ_block(x)·(m + 8d)) and a merged LoRA (x·A·B) are both low-rank: one pair of float32
    # MatMuls does them together, x·[E | A]·[C ; B] with E the 0/1 block indicator [K, K/32]. (A Reshape+ReduceSum
    # for the block sums gave wrong shapes on zero executed rows in onnxruntime-node 1.30, and costs more nodes.)
    left, right = [], []
    if w.block_offset is not None:
        left.append(np.kron(np.eye(w.k // 32, dtype=np.float32), np.ones((32, 1), np.float32)))  # [K, K/32]
        right.append(w.block_offset)  # [K/32, N]
    if w.adapter_a is not None:
        left.append(w.adapter_a)  # [K, r]
        right.append(w.adapter_b)  # [r, N]
    if left:
        t = g.op("MatMul", [x, g.weight("low_rank_in", np.concatenate(left, 1))], name="low_rank_in")
        y = g.op("Add", [y, g.op("MatMul", [t, g.weight("low_rank_out", np.concatenate(right, 0))],
                                 name="low_rank_out")], name="plus_low_rank")
    return y
