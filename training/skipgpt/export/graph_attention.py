"""Attention sublayer of the exported graph: K/V for every new token, Q/attention/o_proj only for executed rows.

The cache is read in place: scores against past_key [1,KVH,C,D] (transB, no transpose copy) and against the new
keys are computed separately, masked, softmaxed together, and the output is the sum of two MatMuls. GQA without
expanding the cache: queries are reshaped to [1, KVH, G*k, D] so each KV head serves its G query heads at once.
"""
from __future__ import annotations

import numpy as np

from .graph_builder import MS_DOMAIN, GraphBuilder
from .graph_linear import linear
from .weights import LayerWeights


def rms_norm(g: GraphBuilder, x: str, weight: np.ndarray, eps: float, name: str) -> str:
    """RMSNorm over the last axis (onnxruntime's SimplifiedLayerNormalization, ONNX domain, float32 math)."""
    with g.scope(name):
        w = g.weight("weight", weight)
        return g.op("SimplifiedLayerNormalization", [x, w], axis=-1, epsilon=eps)


def rope(g: GraphBuilder, ctx, x: str, pos_ids: str, name: str) -> str:
    """Llama RoPE (rotate-half) on x [1, k, heads*D] at positions pos_ids [1, k]."""
    return g.op("RotaryEmbedding", [x, pos_ids, ctx.cos_cache, ctx.sin_cache], name=name, domain=MS_DOMAIN,
                interleaved=0)


def attention_kv(g: GraphBuilder, ctx, xn: str, lw: LayerWeights) -> tuple[str, str]:
    """K (RoPE'd) and V of all S new tokens, each [1, KVH, S, D]: always computed, so skipped tokens stay visible."""
    d = ctx.dims
    kvd = d.kv_heads * d.head_dim
    with g.scope("kv_proj"):
        kv = linear(g, xn, lw.wkv)  # [S, 2*KVH*D]
    k, v = g.op("Split", [kv, g.const([kvd, kvd])], name="kv_split", n_out=2, axis=-1)
    k = g.op("Reshape", [k, g.const([1, -1, kvd])], name="k_reshape")  # [1, S, KVH*D]
    k = rope(g, ctx, k, ctx.pos_ids, "k_rope")
    k = g.op("Reshape", [k, g.const([-1, d.kv_heads, d.head_dim])], name="k_heads")  # [S, KVH, D]
    k = g.op("Transpose", [k], name="k_transpose", perm=[1, 0, 2])  # [KVH, S, D]
    k = g.op("Unsqueeze", [k, g.const([0])], name="new_key")  # [1, KVH, S, D]
    v = g.op("Reshape", [v, g.const([-1, d.kv_heads, d.head_dim])], name="v_heads")
    v = g.op("Transpose", [v], name="v_transpose", perm=[1, 0, 2])
    v = g.op("Unsqueeze", [v, g.const([0])], name="new_value")
    return k, v


def attention_rows(g: GraphBuilder, ctx, xn: str, idx: str | None, k_new: str, v_new: str,
                   past_k: str, past_v: str, lw: LayerWeights) -> str:
    """Attention output [k, d] for the executed rows idx [k] of xn (all S rows when idx is None)."""
    d = ctx.dims
    G = d.heads // d.kv_heads
    if idx is None:
        xq, pos_ids, causal = xn, ctx.pos_ids, ctx.causal_bias
    else:
        xq = g.op("Gather", [xn, idx], name="rows", axis=0)  # [k, d]
        pos = g.op("Gather", [ctx.pos, idx], name="row_pos", axis=0)  # [k]
        pos_ids = g.op("Unsqueeze", [pos, g.const([0])], name="row_pos_ids")  # [1, k]
        causal = g.op("Gather", [ctx.causal_bias, idx], name="row_causal", axis=0)  # [k, S]
    with g.scope("q_proj"):
        q = linear(g, xq, lw.wq)  # [k, H*D]
    q = g.op("Unsqueeze", [q, g.const([0])], name="q_batch")  # [1, k, H*D]
    q = rope(g, ctx, q, pos_ids, "q_rope")
    q = g.op("Reshape", [q, g.const([-1, d.kv_heads, G, d.head_dim])], name="q_heads")  # [k, KVH, G, D]
    q = g.op("Transpose", [q], name="q_transpose", perm=[1, 2, 0, 3])  # [KVH, G, k, D]
    q = g.op("Reshape", [q, g.const([1, d.kv_heads, -1, d.head_dim])], name="q_groups")  # [1, KVH, G*k, D]
    scale = float(d.head_dim) ** -0.5
    s_past = g.op("FusedMatMul", [q, past_k], name="scores_past", transB=1, alpha=scale)  # [1, KVH, G*k, C]
    s_past = g.op("Add", [s_past, ctx.past_bias], name="mask_past")  # rows >= past_length -> -inf
    s_new = g.op("FusedMatMul", [q, k_new], name="scores_new", transB=1, alpha=scale)  # [1, KVH, G*k, S]
    # 0 in a Reshape shape copies that input dim (S); k may be 0 rows, -1 then resolves to 0.
    s_new = g.op("Reshape", [s_new, g.const([d.kv_heads, G, -1, 0])], name="scores_new_rows")
    s_new = g.op("Add", [s_new, causal], name="mask_causal")  # [KVH, G, k, S] + [k, S]
    s_new = g.op("Reshape", [s_new, g.const([1, d.kv_heads, -1, 0])], name="scores_new_flat")
    s = g.op("Concat", [s_past, s_new], name="scores", axis=-1)  # [1, KVH, G*k, C+S]; small
    p = g.op("Softmax", [s], name="softmax", axis=-1)
    p_past, p_new = g.op("Split", [p, ctx.split_cs], name="probs_split", n_out=2, axis=-1)
    o = g.op("MatMul", [p_past, past_v], name="out_past")  # [1, KVH, G*k, D]
    o2 = g.op("MatMul", [p_new, v_new], name="out_new")
    o = g.op("Add", [o, o2], name="out_sum")
    o = g.op("Reshape", [o, g.const([d.kv_heads, G, -1, d.head_dim])], name="out_groups")  # [KVH, G, k, D]
    o = g.op("Transpose", [o], name="out_transpose", perm=[2, 0, 1, 3])  # [k, KVH, G, D]
    o = g.op("Reshape", [o, g.const([-1, d.heads * d.head_dim])], name="out_rows")  # [k, H*D]
    with g.scope("o_proj"):
        return linear(g, o, lw.wo)  # [k, d]
