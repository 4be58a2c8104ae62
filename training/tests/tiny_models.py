"""A tiny SkipLlama shared by the export tests: embeddings N(0, 0.5) so logits of the tied head are well separated,
and optionally routers spread N(0, router_std) so thresholds give mixed decisions."""
import torch

from skipgpt.model import SkipLlama, tiny_llama


def routed_tiny(layers: int = 2, vocab: int = 320, router_std: float | None = None) -> SkipLlama:
    torch.manual_seed(0)
    m = SkipLlama(tiny_llama(layers=layers, vocab=vocab)).eval()
    with torch.no_grad():
        m.base.model.embed_tokens.weight.normal_(0, 0.5)
        if router_std is not None:
            for r in m.routers:
                for lin in (r.attn, r.mlp):
                    lin.weight.normal_(0, router_std)
                    lin.bias.zero_()
    return m
