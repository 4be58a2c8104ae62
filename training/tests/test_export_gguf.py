"""--quant gguf: a tiny GGUF with Q4_1 layers and a Q8_0 embedding, loaded through transformers, re-encoded from its
own blocks. Every base weight must come back bit-identical (only activations are rounded, by MatMulNBits' int8
compute), a merged LoRA must be recovered as a low-rank adapter, and unsupported block types must be refused."""
import numpy as np
import pytest
import torch
from gguf_helpers import MERGES, SPECIALS, permute, write_tiny_gguf

from skipgpt.export.deltas import BuildError
from skipgpt.export.gguf_blocks import GgufBlocks, requantize_from_gguf, rope_row_order
from skipgpt.export.graph_model import build_graph, save_model
from skipgpt.export.ort_runner import OrtModel, make_session
from skipgpt.export.parity import reference
from skipgpt.export.quantize import embedding_from_head
from skipgpt.export.weights import extract_weights
from skipgpt.loader import load_base
from skipgpt.model import SkipLlama, tiny_llama

IDS = list(range(5, 37))


def _gguf(tmp_path, layer_quant="Q4_1"):
    src = tiny_llama(vocab=len(SPECIALS) + 256 + len(MERGES))
    with torch.no_grad():
        src.model.embed_tokens.weight.normal_(0, 0.5)
    return write_tiny_gguf(tmp_path / "q.gguf", src, layer_quant=layer_quant, embed_quant="Q8_0")


def _merge_lora(skip: SkipLlama) -> None:
    """What apply_deltas does with a trained adapter: q and gate get a rank-4 update merged into their weights."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for layer in skip.base.model.layers:
            for lin in (layer.self_attn.q_proj, layer.mlp.gate_proj):
                a = torch.randn(4, lin.in_features, generator=g) * 0.05
                b = torch.randn(lin.out_features, 4, generator=g) * 0.05
                lin.weight += b @ a


@pytest.mark.parametrize("layer_quant", ["Q4_1", "Q4_0"])
def test_blocks_reencode_exactly(tmp_path, layer_quant):
    path = _gguf(tmp_path, layer_quant)
    model, _, _ = load_base(path)
    skip = SkipLlama(model).float().eval()
    _merge_lora(skip)
    w = extract_weights(skip)
    originals = {f: getattr(w.layers[1], f).copy() for f in ("wq", "wkv", "wo", "w_gate_up", "w_down")}
    w, q = requantize_from_gguf(w, path, log=lambda *_: None)
    assert q.method == "MatMulNBits" and q.bits == 4 and q.weights == [f"layers:{layer_quant}", "lm_head:Q8_0"]
    for field, want in originals.items():
        ql = getattr(w.layers[1], field)
        assert ql.kind == layer_quant and (ql.block_offset is not None) == (layer_quant == "Q4_1")
        assert (ql.adapter_a is not None) == (field in ("wq", "w_gate_up")), field  # only the LoRA'd ones
        if ql.adapter_a is not None:
            assert ql.adapter_a.shape[1] == 4  # the merged update's rank, recovered by SVD
        np.testing.assert_allclose(ql.dequantize(), want, rtol=0, atol=1e-6 * np.abs(want).max())
    np.testing.assert_array_equal(w.head_quant.dequantize(), w.embed.T)  # Q8_0 -> 8-bit MatMulNBits: exact


def test_gguf_graph_matches_pytorch(tmp_path):
    path = _gguf(tmp_path)
    model, _, _ = load_base(path)
    skip = SkipLlama(model).float().eval()
    _merge_lora(skip)
    w, _ = requantize_from_gguf(extract_weights(skip), path, log=lambda *_: None)
    onnx_model = build_graph(w, "gather")
    assert embedding_from_head(onnx_model, 8)
    ops = [n.op_type for n in onnx_model.graph.node]
    assert ops.count("MatMulNBits") == 2 * 5 + 1 and "GatherBlockQuantized" in ops
    assert not any(t.name.endswith("/embed_tokens/weight") for t in onnx_model.graph.initializer)
    (tmp_path / "m").mkdir()
    save_model(onnx_model, tmp_path / "m", align=64)
    out = OrtModel(make_session(tmp_path / "m" / "model.onnx"), w.dims).step(IDS, 0.0, num_logits=len(IDS))
    ref_logits, _, _ = reference(skip, IDS, 0.0)
    # Same weights; the only rounding left is MatMulNBits' int8 activations (accuracy_level 4).
    err = np.abs(out.logits - ref_logits).max() / np.abs(ref_logits).max()
    assert err < 0.02, err


def test_rope_row_order_inverts_the_converter():
    rows, heads = 16, 2
    w = np.arange(rows * 3).reshape(rows, 3)
    converted = permute(w, heads)  # what the GGUF stores (the test writer applies the same converter)
    np.testing.assert_array_equal(converted[rope_row_order(rows, heads)], w)
    assert not np.array_equal(converted, w)  # the reordering is not the identity


def test_unsupported_blocks_and_bases_are_refused(tmp_path):
    path = _gguf(tmp_path, layer_quant="Q5_0")
    model, _, _ = load_base(path)
    w = extract_weights(SkipLlama(model).float().eval())
    with pytest.raises(BuildError, match=r"Q5_0.*--quant int8"):
        requantize_from_gguf(w, path, log=lambda *_: None)
    (tmp_path / "q41").mkdir()
    blocks = GgufBlocks(_gguf(tmp_path / "q41"))
    target = np.zeros((64, 64), np.float32) + 3.0  # nothing like the base: not base + low rank
    with pytest.raises(BuildError, match="low-rank"):
        blocks.linear(["blk.0.attn_output.weight"], target, what="layer 0 wo")
