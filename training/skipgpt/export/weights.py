"""ExportWeights: the numpy arrays the ONNX graph needs, read from a SkipLlama (LoRA already merged).

Linear weights are stored as [in, out] (x @ W) (under --quant gguf: gguf_blocks.QuantLinear objects), attention
K/V and MLP gate/up are fused column-wise so one MatMul computes both, and the two routers of a layer are one
[hidden, 4] MatMul (attn exec, attn skip, mlp exec, mlp skip).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..model import SkipLlama
from .manifest import Dims


@dataclass
class LayerWeights:
    router_w: np.ndarray  # [d, 4]
    router_b: np.ndarray  # [4]
    ln1: np.ndarray  # [d]
    wq: np.ndarray  # [d, H*D]
    wkv: np.ndarray  # [d, 2*KVH*D]  (K columns, then V columns)
    wo: np.ndarray  # [H*D, d]
    ln2: np.ndarray  # [d]
    w_gate_up: np.ndarray  # [d, 2*I]  (gate columns, then up columns)
    w_down: np.ndarray  # [I, d]


@dataclass
class ExportWeights:
    dims: Dims
    embed: np.ndarray  # [V, d]; also the LM head when tied
    lm_head: np.ndarray | None  # [V, d] when not tied
    final_norm: np.ndarray  # [d]
    layers: list[LayerWeights]
    head_quant: object | None = None  # gguf_blocks.QuantLinear of the LM head under --quant gguf


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy()


def dims_of(cfg) -> Dims:
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    rope = getattr(cfg, "rope_parameters", None) or {}
    theta = rope.get("rope_theta", getattr(cfg, "rope_theta", None))
    if theta is None:
        raise ValueError("model config has no rope_theta")
    return Dims(layers=cfg.num_hidden_layers, hidden=cfg.hidden_size, heads=cfg.num_attention_heads,
                kv_heads=cfg.num_key_value_heads, head_dim=head_dim, intermediate=cfg.intermediate_size,
                vocab=cfg.vocab_size, max_positions=cfg.max_position_embeddings, rope_theta=float(theta),
                rms_eps=float(cfg.rms_norm_eps))


def _check_supported(cfg) -> None:
    """The graph implements plain Llama: reject what it would silently get wrong."""
    rope = dict(getattr(cfg, "rope_parameters", None) or getattr(cfg, "rope_scaling", None) or {})
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type not in ("default", None):
        raise ValueError(f"RoPE scaling {rope_type!r} is not supported by the exporter (plain RoPE only)")
    if getattr(cfg, "attention_bias", False) or getattr(cfg, "mlp_bias", False):
        raise ValueError("attention/MLP biases are not supported by the exporter")
    if getattr(cfg, "hidden_act", "silu") != "silu":
        raise ValueError(f"activation {cfg.hidden_act!r} is not supported (SiLU only)")
    if getattr(cfg, "head_dim", None) and cfg.head_dim * cfg.num_attention_heads != cfg.hidden_size:
        raise ValueError("head_dim * heads != hidden is not supported")


@torch.no_grad()
def extract_weights(skip: SkipLlama) -> ExportWeights:
    llama = skip._llama()
    if hasattr(llama, "peft_config") or any("lora_" in n for n, _ in llama.named_parameters()):
        raise ValueError("the model still holds LoRA adapters: merge them (merge_and_unload) before export")
    cfg = llama.config
    _check_supported(cfg)
    dims = dims_of(cfg)
    m = llama.model
    layers = []
    for i, layer in enumerate(m.layers):
        a, f, r = layer.self_attn, layer.mlp, skip.routers[i]
        router_w = torch.cat([r.attn.weight, r.mlp.weight], 0).T  # [d, 4]
        router_b = torch.cat([r.attn.bias, r.mlp.bias], 0)
        layers.append(LayerWeights(
            router_w=_np(router_w), router_b=_np(router_b),
            ln1=_np(layer.input_layernorm.weight),
            wq=_np(a.q_proj.weight.T), wkv=_np(torch.cat([a.k_proj.weight, a.v_proj.weight], 0).T),
            wo=_np(a.o_proj.weight.T),
            ln2=_np(layer.post_attention_layernorm.weight),
            w_gate_up=_np(torch.cat([f.gate_proj.weight, f.up_proj.weight], 0).T), w_down=_np(f.down_proj.weight.T),
        ))
    embed = _np(m.embed_tokens.weight)
    head = llama.lm_head.weight
    tied = head.data_ptr() == m.embed_tokens.weight.data_ptr() or torch.equal(head, m.embed_tokens.weight)
    return ExportWeights(dims=dims, embed=embed, lm_head=None if tied else _np(head),
                         final_norm=_np(m.norm.weight), layers=layers)
