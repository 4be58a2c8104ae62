"""SkipLlama on a tiny random Llama: router shapes and initialisation, gate modes, router delta round trip,
and that peft-wrapping the base keeps the routed forward working."""
import pytest
import torch

from skipgpt.model import SkipLlama, tiny_llama


def test_router_shapes_and_init():
    m = SkipLlama(tiny_llama(layers=3, hidden=64))
    assert len(m.routers) == 3
    for r in m.routers:
        assert r.attn.weight.shape == (2, 64) and r.mlp.bias.shape == (2,)
        assert r.attn.weight.dtype == torch.float32
    out = m(torch.randint(0, 256, (2, 5)), mode="hard")
    assert out.logits.shape == (2, 5, 256)
    assert out.gates.shape == out.probs.shape == (2, 5, 3, 2)
    assert bool((out.probs > 0.9).all())  # bias [2, -2] starts every sublayer on "execute"


def test_dense_equals_base_and_all_skipped_differs():
    base = tiny_llama()
    m = SkipLlama(base)
    ids = torch.randint(0, 256, (1, 7))
    with torch.no_grad():
        ref = base(ids).logits
        assert torch.allclose(m(ids, mode="dense").logits, ref, atol=1e-5)
        assert torch.allclose(m(ids, mode="hard", threshold=0.5).logits, ref, atol=1e-5)
        skipped = m(ids, mode="hard", threshold=1.1)
    assert float(skipped.gates.sum()) == 0.0
    assert not torch.allclose(skipped.logits, ref, atol=1e-3)


def test_static_mask_and_gumbel_gates_are_binary():
    m = SkipLlama(tiny_llama())
    ids = torch.randint(0, 256, (2, 6))
    mask = torch.tensor([[True, False], [False, True]])
    out = m(ids, mode="static", static_mask=mask)
    assert torch.equal(out.gates[0, 0].bool(), mask)
    g = m(ids, mode="gumbel", tau=2.0).gates
    assert set(g.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="static_mask"):
        m(ids, mode="static")


def test_router_state_dict_round_trip():
    a, b = SkipLlama(tiny_llama()), SkipLlama(tiny_llama())
    with torch.no_grad():
        a.routers[1].mlp.weight.add_(1.0)
    b.load_router_state_dict(a.router_state_dict())
    assert torch.equal(b.routers[1].mlp.weight, a.routers[1].mlp.weight)
    sd = a.router_state_dict()
    del sd["layers.0.attn.bias"]
    with pytest.raises(ValueError, match="missing"):
        b.load_router_state_dict(sd)


def test_peft_wrapped_base_still_routes():
    from peft import LoraConfig, get_peft_model

    base = tiny_llama()
    m = SkipLlama(base)
    ids = torch.randint(0, 256, (1, 5))
    with torch.no_grad():
        ref = m(ids, mode="hard").logits
    m.base = get_peft_model(m.base, LoraConfig(r=4, target_modules=["q_proj"]))
    m.eval()
    with torch.no_grad():
        out = m(ids, mode="hard").logits  # LoRA B starts at zero, so the output is unchanged
    assert torch.allclose(out, ref, atol=1e-5)
