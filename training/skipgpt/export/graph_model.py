"""The whole exported graph (docs/ARCHITECTURE.md section 2): embedding, per-layer routers and routed sublayers,
final norm and tied LM head on the last N positions; plus saving with weights in one external data file.

Skip modes (measured in docs/EXPORT.md): "gather" computes executed rows only (NonZero -> Gather -> compute ->
ScatterND add), "if" wraps that in an If that skips everything when no row executes, "mask" computes every row
and multiplies by the 0/1 decision (no saving; a reference).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import external_data_helper, helper

from .graph_attention import attention_kv, attention_rows, rms_norm
from .graph_builder import BOOL, FLOAT, INT64, IR_VERSION, MS_DOMAIN, OPSET, GraphBuilder, value_info
from .graph_linear import linear
from .graph_mlp import mlp_rows
from .manifest import Dims, IONames
from .weights import ExportWeights

SKIP_MODES = ("gather", "if", "mask")
NEG = float(np.finfo(np.float32).min)  # additive mask; finite so an (impossible) all-masked row gives no NaN


@dataclass
class Ctx:
    """Values shared by all layers."""
    dims: Dims
    skip_mode: str
    pos: str = ""  # [S] absolute positions past_length + arange(S)
    pos_ids: str = ""  # [1, S]
    past_bias: str = ""  # [C] 0 where cache row < past_length, NEG elsewhere
    causal_bias: str = ""  # [S, S] 0 where key j <= query i, NEG elsewhere
    split_cs: str = ""  # [2] = (C, S), splits softmax probabilities into cache and new parts
    cos_cache: str = ""
    sin_cache: str = ""
    threshold: str = ""


def _rope_tables(g: GraphBuilder, dims: Dims) -> tuple[str, str]:
    # Same float32 arithmetic as transformers' LlamaRotaryEmbedding (inv_freq float32, outer product float32).
    d = dims.head_dim
    inv_freq = (1.0 / (dims.rope_theta ** (np.arange(0, d, 2, dtype=np.int64).astype(np.float32) / d))).astype(
        np.float32)
    freqs = np.arange(dims.max_positions, dtype=np.float32)[:, None] * inv_freq[None, :]  # [P, D/2]
    with g.scope("rotary_emb"):
        return g.weight("cos_cache", np.cos(freqs)), g.weight("sin_cache", np.sin(freqs))


def _shared(g: GraphBuilder, ctx: Ctx, io: IONames) -> None:
    with g.scope("model/shared"):
        s = g.op("Shape", [io.input_ids], name="seq_len", start=1, end=2)  # [1]
        c = g.op("Shape", [io.past_key.format(layer=0)], name="capacity", start=2, end=3)  # [1]
        ctx.split_cs = g.op("Concat", [c, s], name="split_sizes", axis=0)
        zero, one = g.const(0), g.const(1)
        ar = g.op("Range", [zero, g.op("Squeeze", [s], name="seq_len_scalar"), one], name="arange_s")  # [S]
        ctx.pos = g.op("Add", [ar, io.past_length], name="positions")
        ctx.pos_ids = g.op("Unsqueeze", [ctx.pos, g.const([0])], name="position_ids")
        ar_c = g.op("Range", [zero, g.op("Squeeze", [c], name="capacity_scalar"), one], name="arange_c")
        valid = g.op("Less", [ar_c, io.past_length], name="cache_valid")
        neg, z = g.const(NEG, np.float32), g.const(0.0, np.float32)
        ctx.past_bias = g.op("Where", [valid, z, neg], name="past_bias")
        later = g.op("Greater", [g.op("Unsqueeze", [ar, g.const([0])], name="key_idx"),
                                 g.op("Unsqueeze", [ar, g.const([1])], name="query_idx")], name="future")
        ctx.causal_bias = g.op("Where", [later, neg, z], name="causal_bias")
    ctx.threshold = io.threshold


def _scatter_rows(g: GraphBuilder, h: str, dec: str, body) -> str:
    idx = g.op("NonZero", [dec], name="executed")  # [1, k]
    idx = g.op("Reshape", [idx, g.const([-1])], name="executed_rows")  # [k]
    out = body(idx)  # [k, d]
    idx2 = g.op("Unsqueeze", [idx, g.const([1])], name="scatter_index")  # [k, 1]
    return g.op("ScatterND", [h, idx2, out], name="residual_add", reduction="add")


def _routed(g: GraphBuilder, ctx: Ctx, h: str, dec: str, body) -> str:
    """h + body(rows) on the rows whose decision is true; body(idx) returns [k, d] (idx None = all rows)."""
    if ctx.skip_mode == "mask":
        gate = g.op("Cast", [g.op("Unsqueeze", [dec, g.const([1])], name="gate_col")], name="gate", to=FLOAT)
        return g.op("Add", [h, g.op("Mul", [body(None), gate], name="gated")], name="residual_add")
    if ctx.skip_mode == "gather":
        return _scatter_rows(g, h, dec, body)
    # "if": no kernel of the sublayer runs when no row executes (decode: the whole sublayer is one If).
    anyf = g.op("ReduceMax", [g.op("Cast", [dec], name="dec_float", to=FLOAT)], name="any_executed", keepdims=0)
    cond = g.op("Cast", [anyf], name="any_executed_bool", to=BOOL)
    with g.subgraph() as then_nodes:
        out_then = _scatter_rows(g, h, dec, body)
    with g.subgraph() as else_nodes:
        out_else = g.op("Identity", [h], name="skipped")
    then_g = helper.make_graph(then_nodes, "then", [], [value_info(out_then, FLOAT, None)])
    else_g = helper.make_graph(else_nodes, "else", [], [value_info(out_else, FLOAT, None)])
    return g.op("If", [cond], name="If", then_branch=then_g, else_branch=else_g)


def build_graph(w: ExportWeights, skip_mode: str = "gather", io: IONames | None = None,
                head_matmul: bool = False) -> onnx.ModelProto:
    """head_matmul: store the LM head as its own [d, V] MatMul weight (for MatMulNBits quantization, which only
    rewrites MatMul; the fp32 embedding stays for the Gather) instead of sharing the embedding through Gemm."""
    if skip_mode not in SKIP_MODES:
        raise ValueError(f"skip_mode must be one of {SKIP_MODES}, got {skip_mode!r}")
    io = io or IONames()
    d = w.dims
    g = GraphBuilder()
    ctx = Ctx(dims=d, skip_mode=skip_mode)
    ctx.cos_cache, ctx.sin_cache = _rope_tables(g, d)
    _shared(g, ctx, io)
    probs, keys, values = [], [], []
    with g.scope("model"):
        with g.scope("embed_tokens"):
            embed = g.weight("weight", w.embed)
            ids = g.op("Squeeze", [io.input_ids, g.const([0])], name="ids")  # [S]
            h = g.op("Gather", [embed, ids], axis=0)  # [S, d]
        for i, lw in enumerate(w.layers):
            past_k, past_v = io.past_key.format(layer=i), io.past_value.format(layer=i)
            with g.scope(f"layers.{i}"):
                with g.scope("router"):
                    r = g.op("Add", [g.op("MatMul", [h, g.weight("weight", lw.router_w)]),
                                     g.weight("bias", lw.router_b)])  # [S, 4]
                    r = g.op("Reshape", [r, g.const([-1, 2, 2])])  # [S, module, (execute, skip)]
                    r = g.op("Softmax", [r], axis=-1)  # = SkipLlama's softmax(logits)[..., 0]
                    p = g.op("Gather", [r, g.const(0)], name="p_execute", axis=2)  # [S, 2]
                    probs.append(g.op("Unsqueeze", [p, g.const([1])], name="probs"))  # [S, 1, 2]
                    dec = g.op("GreaterOrEqual", [p, ctx.threshold], name="decide")  # [S, 2]
                    dec_a = g.op("Gather", [dec, g.const(0)], name="attn_decision", axis=1)  # [S]
                    dec_m = g.op("Gather", [dec, g.const(1)], name="mlp_decision", axis=1)
                with g.scope("attn"):
                    xn = rms_norm(g, h, lw.ln1, d.rms_eps, "input_layernorm")
                    k_new, v_new = attention_kv(g, ctx, xn, lw)
                    keys.append(k_new)
                    values.append(v_new)
                    h = _routed(g, ctx, h, dec_a, lambda idx: attention_rows(
                        g, ctx, xn, idx, k_new, v_new, past_k, past_v, lw))
                with g.scope("mlp"):
                    h_attn = h
                    h = _routed(g, ctx, h, dec_m, lambda idx: mlp_rows(
                        g, ctx, h_attn if idx is None else g.op("Gather", [h_attn, idx], name="rows", axis=0), lw))
        neg_n = g.op("Neg", [io.num_logits], name="last_n")
        h = g.op("Slice", [h, neg_n, g.const([np.iinfo(np.int64).max]), g.const([0])], name="last_positions")
        h = rms_norm(g, h, w.final_norm, d.rms_eps, "norm")
        with g.scope("lm_head"):
            # Tied head: Gemm transB reads the [V, d] embedding in place, so the weight is stored once.
            head = w.embed if w.lm_head is None else w.lm_head
            if w.head_quant is not None:  # --quant gguf: the GGUF's own head blocks
                logits = linear(g, h, w.head_quant)
            elif head_matmul:
                logits = g.op("MatMul", [h, g.weight("weight_t", np.ascontiguousarray(head.T))])  # [N, V]
            else:
                head = embed if w.lm_head is None else g.weight("weight", w.lm_head)
                logits = g.op("Gemm", [h, head], transB=1)  # [N, V]
    g.op_to("Unsqueeze", [logits, g.const([0])], [io.logits], name="logits")
    g.op_to("Concat", probs, [io.router_probs], name="router_probs", axis=1)
    g.op_to("Concat", keys, [io.new_key], name="new_key", axis=0)
    g.op_to("Concat", values, [io.new_value], name="new_value", axis=0)

    kv = [d.kv_heads, "C", d.head_dim]
    inputs = [value_info(io.input_ids, INT64, [1, "S"]), value_info(io.past_length, INT64, [1]),
              value_info(io.threshold, FLOAT, [1]), value_info(io.num_logits, INT64, [1])]
    for i in range(d.layers):
        inputs += [value_info(io.past_key.format(layer=i), FLOAT, [1, *kv]),
                   value_info(io.past_value.format(layer=i), FLOAT, [1, *kv])]
    outputs = [value_info(io.logits, FLOAT, [1, "N", d.vocab]),
               value_info(io.router_probs, FLOAT, ["S", d.layers, 2]),
               value_info(io.new_key, FLOAT, [d.layers, d.kv_heads, "S", d.head_dim]),
               value_info(io.new_value, FLOAT, [d.layers, d.kv_heads, "S", d.head_dim])]
    graph = helper.make_graph(g.nodes, "skipgpt", inputs, outputs, initializer=g.initializers)
    model = helper.make_model(graph, producer_name="skipgpt", opset_imports=[
        helper.make_opsetid("", OPSET), helper.make_opsetid(MS_DOMAIN, 1)])
    model.ir_version = IR_VERSION
    return model


def save_model(model: onnx.ModelProto, folder: str | Path, data_name: str = "model.onnx.data",
               align: int = 65536, min_external: int = 1024) -> tuple[Path, Path]:
    """Write model.onnx + one external data file. Tensors start at multiples of `align` bytes so onnxruntime can
    memory-map them (64 KiB = Windows allocation granularity); tiny fixtures pass a small align."""
    folder = Path(folder)
    data_path = folder / data_name
    with open(data_path, "wb") as f:
        for t in model.graph.initializer:
            raw = t.raw_data
            if len(raw) < min_external:
                continue
            if align > 1 and f.tell() % align:
                f.write(b"\0" * (align - f.tell() % align))
            offset = f.tell()
            f.write(raw)
            external_data_helper.set_external_data(t, data_name, offset, len(raw))
            t.ClearField("raw_data")
            t.data_location = onnx.TensorProto.EXTERNAL
    model_path = folder / "model.onnx"
    onnx.save_model(model, str(model_path))
    return model_path, data_path
