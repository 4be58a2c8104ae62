"""ShortGPT baseline on tiny random Llamas: block influence on hand-made layers, mask selection and fractions."""
import pytest
import torch

from skipgpt.model import SkipLlama, tiny_llama
from skipgpt.shortgpt import block_influence, mask_fraction, shortgpt_mask


def make_identity(model, layer: int, attn: bool = True, mlp: bool = True) -> None:
    """Zero the output projections so the sublayer adds nothing to the residual stream."""
    blk = model.model.layers[layer]
    with torch.no_grad():
        if attn:
            blk.self_attn.o_proj.weight.zero_()
        if mlp:
            blk.mlp.down_proj.weight.zero_()


def windows(n=3, s=24, vocab=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (n, s), generator=g)


def test_identity_layer_has_zero_bi_and_is_removed_first():
    model = tiny_llama(layers=4)
    make_identity(model, 2)
    bi = block_influence(model, windows(), batch=2)
    assert abs(bi["layer"][2]) < 1e-6 and abs(bi["attn"][2]) < 1e-6 and abs(bi["mlp"][2]) < 1e-6
    assert min(bi["layer"][i] for i in (0, 1, 3)) > 1e-4
    mask, info = shortgpt_mask(bi, 0.25)  # 2 of 8 sublayers = exactly one layer
    assert info["removed_layers"] == [2] and info["extra_sublayer"] is None
    assert mask == [[True, True], [True, True], [False, False], [True, True]]
    # Dropping an identity layer through SkipLlama's static mode changes nothing.
    ids = windows(1, 16)
    skip = SkipLlama(model).eval()
    with torch.no_grad():
        dense = skip(ids, mode="dense").logits
        static = skip(ids, mode="static", static_mask=torch.tensor(mask)).logits
    torch.testing.assert_close(static, dense, rtol=1e-5, atol=1e-5)


def test_sublayer_bi_separates_attention_and_mlp():
    model = tiny_llama(layers=3)
    make_identity(model, 1, attn=True, mlp=False)
    bi = block_influence(model, windows(), batch=3)
    assert abs(bi["attn"][1]) < 1e-6
    assert bi["mlp"][1] > 1e-4
    assert all(b > 1e-4 for i, b in enumerate(bi["attn"]) if i != 1)


def test_bi_is_batch_invariant():
    model = tiny_llama(layers=2)
    w = windows(4, 16)
    a, b = block_influence(model, w, batch=1), block_influence(model, w, batch=4)
    for k in a:
        assert a[k] == pytest.approx(b[k], abs=1e-6)


def test_odd_sublayer_count_removes_lowest_sublayer_of_kept_layers():
    L = 10  # 25% of 20 sublayers = 5 = two layers and one sublayer
    bi = {"layer": [0.5, 0.1, 0.6, 0.05, 0.7, 0.8, 0.9, 0.95, 0.99, 0.3],
          "attn": [0.2, 0.01, 0.3, 0.0, 0.4, 0.02, 0.5, 0.6, 0.7, 0.25],
          "mlp": [0.3, 0.02, 0.4, 0.01, 0.03, 0.5, 0.6, 0.7, 0.8, 0.2]}
    mask, info = shortgpt_mask(bi, 0.25)
    assert info["removed_layers"] == [1, 3]  # lowest layer BI
    # Lowest sublayer BI among kept layers: attention of layer 5 (0.02) beats MLP of layer 4 (0.03);
    # layer 1's attention (0.01) is already gone with its layer.
    assert info["extra_sublayer"] == {"layer": 5, "sublayer": "attn"}
    assert mask[5] == [False, True]
    assert sum(not x for row in mask for x in row) == 5
    assert mask_fraction(mask) == pytest.approx(0.25)
    mask40, info40 = shortgpt_mask(bi, 0.40)  # 8 sublayers = four whole layers
    assert info40["removed_layers"] == [0, 1, 3, 9] and info40["extra_sublayer"] is None
    assert mask_fraction(mask40) == pytest.approx(0.40)


def test_mask_fraction_parameter_weighting():
    mask = [[False, True], [True, False], [True, True]]
    params = [[1, 3], [1, 3], [1, 3]]
    assert mask_fraction(mask) == pytest.approx(2 / 6)
    assert mask_fraction(mask, params) == pytest.approx((1 + 3) / 12)


def test_bad_target_is_rejected():
    with pytest.raises(ValueError, match="target"):
        shortgpt_mask({"layer": [0.1], "attn": [0.1], "mlp": [0.1]}, 1.0)
