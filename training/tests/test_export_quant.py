"""MatMulNBits quantization of the exported graph: which MatMuls are rewritten (routers stay float32, so
router probabilities are exact), and how close int8 / int4 logits stay to the float32 graph."""
import numpy as np
import pytest
import torch

from skipgpt.export.graph_model import build_graph, save_model
from skipgpt.export.ort_runner import OrtModel, make_session
from skipgpt.export.parity import reference
from skipgpt.export.quantize import quantize_model
from skipgpt.export.weights import extract_weights
from skipgpt.model import SkipLlama, tiny_llama

IDS = list(range(5, 45))


@pytest.fixture(scope="module")
def skip():
    torch.manual_seed(0)
    m = SkipLlama(tiny_llama(layers=2, vocab=320)).eval()
    with torch.no_grad():
        m.base.model.embed_tokens.weight.normal_(0, 0.5)
    return m


@pytest.mark.parametrize("quant, rel_tol", [("int8", 0.02), ("int4", 0.2)])
@pytest.mark.parametrize("mode", ["gather", "if"])
def test_quantized_graph(skip, tmp_path, quant, rel_tol, mode):
    w = extract_weights(skip)
    model, q = quantize_model(build_graph(w, mode, head_matmul=True), w, quant, log=lambda *_: None)
    assert q.method == "MatMulNBits" and q.bits == {"int8": 8, "int4": 4}[quant] and q.block_size == 32
    ops = {}
    stack = list(model.graph.node)
    while stack:  # If branches included
        n = stack.pop()
        ops.setdefault(n.op_type, []).append(n.name)
        stack += [x for a in n.attribute if a.type == a.GRAPH for x in a.g.node]
    assert len(ops["MatMulNBits"]) == 2 * 5 + 1  # q, kv, o, gate_up, down per layer + LM head
    assert sorted(n for n in ops["MatMul"] if "/router/" in n) == [f"/model/layers.{i}/router/MatMul" for i in (0, 1)]
    save_model(model, tmp_path, align=64)
    out = OrtModel(make_session(tmp_path / "model.onnx"), w.dims).step(IDS, 0.5, num_logits=len(IDS))
    ref_logits, ref_probs, _ = reference(skip, IDS, 0.5)
    np.testing.assert_allclose(out.probs[:, 0], ref_probs[:, 0], atol=1e-6)  # layer 0 reads the embedding only
    err = np.abs(out.logits - ref_logits).max() / np.abs(ref_logits).max()
    assert 0 < err < rel_tol


def test_unknown_scheme(skip):
    w = extract_weights(skip)
    with pytest.raises(ValueError, match="int3"):
        quantize_model(build_graph(w, "gather", head_matmul=True), w, "int3")
