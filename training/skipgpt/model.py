"""SkipLlama: a Hugging Face Llama plus SkipGPT routers (one for attention, one for MLP, per layer).

Owns the routed forward pass used by training, evaluation and as the export's PyTorch reference.
Method and choices: ../shared/notes/skipgpt.md (both routers read the block input; logit 0 = execute).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from transformers import LlamaForCausalLM

from .runtime import gumbel_hard

Mode = Literal["dense", "gumbel", "hard", "static"]
EXECUTE, SKIP = 0, 1  # router logit indices


class LayerRouter(nn.Module):
    """Two linear d→2 routers that read the block input x_l (before input_layernorm). Kept in fp32."""

    def __init__(self, hidden: int):
        super().__init__()
        self.attn = nn.Linear(hidden, 2)
        self.mlp = nn.Linear(hidden, 2)
        for lin in (self.attn, self.mlp):
            nn.init.normal_(lin.weight, std=0.02 / hidden**0.5)
            # Start strongly "execute" so stage 1 begins at the dense model and learns what to drop.
            with torch.no_grad():
                lin.bias.copy_(torch.tensor([2.0, -2.0]))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.float()
        if torch.is_autocast_enabled(x.device.type):  # CUDA training (runtime.py): keep the routers in fp32
            with torch.autocast(x.device.type, enabled=False):
                return self.attn(x), self.mlp(x)
        return self.attn(x), self.mlp(x)  # each [B, S, 2]


@dataclass
class RoutedOutput:
    logits: torch.Tensor  # [B, S, V]
    gates: torch.Tensor  # [B, S, L, 2] execute gate actually applied (0/1; straight-through in gumbel mode)
    probs: torch.Tensor  # [B, S, L, 2] p_execute from the routers (softmax over the two logits)


class SkipLlama(nn.Module):
    """Routed Llama. `base` stays a plain LlamaForCausalLM so peft and the exporter can read it directly."""

    def __init__(self, base: LlamaForCausalLM):
        super().__init__()
        cfg = base.config
        if getattr(cfg, "model_type", None) != "llama":
            raise ValueError(f"SkipLlama needs a Llama-family model, got model_type={cfg.model_type!r}")
        # SDPA with no mask is causal; eager attention with no mask would not be.
        cfg._attn_implementation = "sdpa"
        self.base = base
        self.routers = nn.ModuleList(LayerRouter(cfg.hidden_size) for _ in range(cfg.num_hidden_layers))
        # Data-parallel training (runtime.py) sets the rows of the global batch this process holds, so Gumbel noise
        # is drawn for the global batch and N processes sample what one would. None = this process has all rows.
        self.row_shard = None
        # Optional forecast.Forecasters (execute-or-approximate): None keeps SkipGPT's recipe (a skip adds nothing).
        self.forecasters = None

    @property
    def config(self):
        return self.base.config

    @property
    def num_layers(self) -> int:
        return self.base.config.num_hidden_layers

    def _llama(self):
        # Works for the plain model and for a peft-wrapped one (PeftModel → LoraModel → LlamaForCausalLM).
        # (PeftModel forwards attribute lookups, so hasattr(peft_model, "lm_head") is already true: unwrap first.)
        m = self.base
        return m.get_base_model() if hasattr(m, "get_base_model") else m

    def forward(
        self,
        input_ids: torch.Tensor,
        *,
        mode: Mode = "hard",
        tau: float = 1.0,
        threshold: float = 0.5,
        static_mask: torch.Tensor | None = None,
        cache=None,
    ) -> RoutedOutput:
        """mode: dense (all run), gumbel (training: straight-through hard Gumbel sample at temperature tau),
        hard (inference: run iff p_execute >= threshold), static (static_mask [L, 2] bool, ShortGPT-style).
        cache: a transformers Cache for generation (nextline.py); input_ids continue after what it holds. Every
        attention writes its K/V whether or not its output is used, as the exported graph does."""
        llama = self._llama()
        model = llama.model
        B, S = input_ids.shape
        h = model.embed_tokens(input_ids)
        start = cache.get_seq_length() if cache is not None else 0
        pos = torch.arange(start, start + S, device=input_ids.device).unsqueeze(0)
        pos_emb = model.rotary_emb(h, position_ids=pos)
        gates, probs = [], []
        for i, layer in enumerate(model.layers[: self.num_layers]):
            la, lm = self.routers[i](h)
            p = torch.stack([la.softmax(-1)[..., EXECUTE], lm.softmax(-1)[..., EXECUTE]], dim=-1)  # [B,S,2]
            g = self._gate(mode, la, lm, p, tau, threshold, static_mask, i, self.row_shard)
            xa = layer.input_layernorm(h)
            a, _ = layer.self_attn(
                hidden_states=xa, attention_mask=None, position_ids=pos, position_embeddings=pos_emb, cache=cache,
            )
            h = h + g[..., 0:1].to(a.dtype) * a
            if self.forecasters is not None:  # execute-or-approximate: a skipped sublayer adds its forecast
                h = h + (1 - g[..., 0:1]).to(a.dtype) * self.forecasters(i, "attn", xa)
            xm = layer.post_attention_layernorm(h)
            m = layer.mlp(xm)
            h = h + g[..., 1:2].to(m.dtype) * m
            if self.forecasters is not None:
                h = h + (1 - g[..., 1:2]).to(m.dtype) * self.forecasters(i, "mlp", xm)
            gates.append(g)
            probs.append(p)
        logits = llama.lm_head(model.norm(h))
        return RoutedOutput(logits, torch.stack(gates, dim=2), torch.stack(probs, dim=2))

    @staticmethod
    def _gate(mode, la, lm, p, tau, threshold, static_mask, i, shard=None) -> torch.Tensor:
        if mode == "dense":
            return torch.ones_like(p)
        if mode == "gumbel":
            ga = gumbel_hard(la, tau, shard)[..., EXECUTE]
            gm = gumbel_hard(lm, tau, shard)[..., EXECUTE]
            return torch.stack([ga, gm], dim=-1)
        if mode == "hard":
            return (p >= threshold).to(p.dtype)
        if mode == "static":
            if static_mask is None:
                raise ValueError("mode='static' needs static_mask [L, 2]")
            return static_mask[i].to(p.dtype).expand_as(p)
        raise ValueError(f"unknown mode {mode!r}")

    def router_state_dict(self) -> dict[str, torch.Tensor]:
        """Router weights under the delta-file keys of docs/ARCHITECTURE.md (layers.{l}.attn.weight, ...)."""
        out = {}
        for i, r in enumerate(self.routers):
            for name, lin in (("attn", r.attn), ("mlp", r.mlp)):
                out[f"layers.{i}.{name}.weight"] = lin.weight.detach().float().contiguous()
                out[f"layers.{i}.{name}.bias"] = lin.bias.detach().float().contiguous()
        return out

    def load_router_state_dict(self, sd: dict[str, torch.Tensor]) -> None:
        expected = set(self.router_state_dict())
        if set(sd) != expected:
            missing, extra = sorted(expected - set(sd))[:3], sorted(set(sd) - expected)[:3]
            raise ValueError(f"router deltas do not fit this model (missing {missing}, unexpected {extra})")
        for i, r in enumerate(self.routers):
            for name, lin in (("attn", r.attn), ("mlp", r.mlp)):
                w, b = sd[f"layers.{i}.{name}.weight"], sd[f"layers.{i}.{name}.bias"]
                if w.shape != lin.weight.shape:
                    raise ValueError(f"router layers.{i}.{name}.weight has shape {tuple(w.shape)}, "
                                     f"model needs {tuple(lin.weight.shape)}")
                with torch.no_grad():
                    lin.weight.copy_(w)
                    lin.bias.copy_(b)


def tiny_llama(seed: int = 0, layers: int = 2, hidden: int = 64, heads: int = 4, kv_heads: int = 2,
               inter: int = 128, vocab: int = 256) -> LlamaForCausalLM:
    """A tiny random Llama for tests and fixtures (no downloads)."""
    from transformers import LlamaConfig

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                      num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=512,
                      tie_word_embeddings=True, rope_theta=10000.0)
    return LlamaForCausalLM(cfg).eval()
