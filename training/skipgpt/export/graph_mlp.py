"""MLP sublayer of the exported graph (SwiGLU): computed only for the executed rows it is given.

gate_proj and up_proj are one fused MatMul [d, 2I] (one weight read, one kernel call), split afterwards.
"""
from __future__ import annotations

from .graph_attention import rms_norm
from .graph_builder import GraphBuilder
from .graph_linear import linear
from .weights import LayerWeights


def mlp_rows(g: GraphBuilder, ctx, x: str, lw: LayerWeights) -> str:
    """SwiGLU MLP of post_attention_layernorm(x) for rows x [k, d]; returns [k, d]."""
    inter = ctx.dims.intermediate
    xn = rms_norm(g, x, lw.ln2, ctx.dims.rms_eps, "post_attention_layernorm")
    with g.scope("gate_up_proj"):
        gu = linear(g, xn, lw.w_gate_up)  # [k, 2I]
    gate, up = g.op("Split", [gu, g.const([inter, inter])], name="gate_up_split", n_out=2, axis=-1)
    act = g.op("Mul", [gate, g.op("Sigmoid", [gate], name="silu_sigmoid")], name="silu")
    act = g.op("Mul", [act, up], name="gate_times_up")
    with g.scope("down_proj"):
        return linear(g, act, lw.w_down)  # [k, d]
