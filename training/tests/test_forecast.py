"""Execute-or-approximate forecasters (skipgpt/forecast.py): the regression recovers a known low-rank map, the file
round-trips, SkipLlama adds a forecast exactly where a sublayer is skipped and nowhere else, and the fit runs."""
import pytest
import torch

from skipgpt.forecast import Forecasters, Stats, fit_forecasters, load_forecasters, solve
from tiny_models import routed_tiny

IDS = torch.tensor([[5, 17, 250, 3, 99, 42, 7, 120, 61, 8, 200, 33]])


def random_forecasters(model, rank=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    fc = Forecasters(model.num_layers, model.config.hidden_size, rank)
    fc.A.normal_(0, 0.3, generator=g)
    fc.B.normal_(0, 0.3, generator=g)
    fc.bias.normal_(0, 0.1, generator=g)
    return fc


def test_solve_recovers_a_low_rank_map_with_bias():
    g = torch.Generator().manual_seed(0)
    d, r, n = 24, 3, 2000
    A, B, c = torch.randn(d, r, generator=g), torch.randn(r, d, generator=g), torch.randn(d, generator=g)
    x = torch.randn(n, d, generator=g)
    st = Stats(d)
    st.add(x, x @ A @ B + c, torch.ones(n))
    A2, B2, c2, r2 = solve(st, r, ridge=1e-9)
    assert r2 > 0.9999
    torch.testing.assert_close(x[:5] @ A2 @ B2 + c2, x[:5] @ A @ B + c, atol=1e-3, rtol=1e-3)
    # A lower rank cannot represent it: the reported R² must say so.
    assert solve(st, 1, ridge=1e-9)[3] < 0.9


def test_save_load_round_trip_and_shape_check(tmp_path):
    m = routed_tiny(layers=2)
    fc = random_forecasters(m)
    fc.save(tmp_path / "f.safetensors")
    back = load_forecasters(tmp_path / "f.safetensors", 2, 64)
    assert back.rank == 4
    torch.testing.assert_close(back.A, fc.A, atol=1e-3, rtol=1e-3)  # fp16 on disk
    with pytest.raises(ValueError, match="do not fit"):
        load_forecasters(tmp_path / "f.safetensors", 3, 64)


@torch.no_grad()
def test_forecast_is_added_only_for_skipped_sublayers():
    m = routed_tiny(layers=3, vocab=300, router_std=0.5)
    plain = m(IDS, mode="hard", threshold=0.5)
    assert 0.2 < plain.gates.mean() < 0.8  # decisions are mixed, so the comparison below is not vacuous
    m.forecasters = random_forecasters(m)
    try:
        # Nothing skipped (threshold 0): forecasts must not change anything.
        torch.testing.assert_close(m(IDS, mode="hard", threshold=0.0).logits,
                                   routed_tiny(layers=3, vocab=300, router_std=0.5)(IDS, mode="dense").logits)
        fc_out = m(IDS, mode="hard", threshold=0.5)
        assert (fc_out.logits - plain.logits).abs().max() > 1e-3
        # Reference: the same forward written out, forecast times (1 - gate) after each sublayer.
        llama = m._llama()
        h = llama.model.embed_tokens(IDS)
        pos = torch.arange(IDS.shape[1])[None]
        pe = llama.model.rotary_emb(h, position_ids=pos)
        for i, layer in enumerate(llama.model.layers):
            la, lm = m.routers[i](h)
            g = (torch.stack([la.softmax(-1)[..., 0], lm.softmax(-1)[..., 0]], -1) >= 0.5).float()
            x = layer.input_layernorm(h)
            a, _ = layer.self_attn(hidden_states=x, attention_mask=None, position_ids=pos, position_embeddings=pe)
            f = x @ m.forecasters.A[i, 0] @ m.forecasters.B[i, 0] + m.forecasters.bias[i, 0]
            h = h + g[..., :1] * a + (1 - g[..., :1]) * f
            x = layer.post_attention_layernorm(h)
            f = x @ m.forecasters.A[i, 1] @ m.forecasters.B[i, 1] + m.forecasters.bias[i, 1]
            h = h + g[..., 1:] * layer.mlp(x) + (1 - g[..., 1:]) * f
        torch.testing.assert_close(fc_out.logits, llama.lm_head(llama.model.norm(h)), atol=1e-5, rtol=1e-5)
    finally:
        m.forecasters = None
    # Without forecasters the old behaviour is back, bit for bit.
    assert torch.equal(m(IDS, mode="hard", threshold=0.5).logits, plain.logits)


def test_fit_runs_and_explains_part_of_each_used_sublayer():
    m = routed_tiny(layers=2, vocab=300, router_std=0.5)
    windows = torch.randint(0, 300, (4, 32), generator=torch.Generator().manual_seed(0))
    main, extra, report = fit_forecasters(m, windows, rank=8, extra_ranks=(2,), batch=2, log=lambda *_: None)
    assert main.rank == 8 and extra[2].rank == 2
    assert len(report["layers"]) == 2
    for rec in report["layers"]:
        for kind in ("attn", "mlp"):
            if rec[kind]["skipped"] > 0.1:
                assert 0.0 < rec[kind]["r2"] <= 1.0
    assert main.A.abs().sum() > 0
