"""MatMulNBits quantization of the exported graph: which MatMuls are rewritten (routers stay float32), the tied
embedding read from the head's quantized blocks, and how close int8 / int4 logits stay to the float32 graph."""
import numpy as np
import pytest
from onnx import numpy_helper
from tiny_models import routed_tiny

from skipgpt.export.graph_model import build_graph, save_model
from skipgpt.export.ort_runner import OrtModel, make_session
from skipgpt.export.parity import reference
from skipgpt.export.quantize import quantize_model
from skipgpt.export.weights import extract_weights

IDS = list(range(5, 45))


@pytest.fixture(scope="module")
def skip():
    return routed_tiny(layers=2, vocab=320)


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
    # The tied embedding is no longer stored in float32: it is gathered from the head's quantized blocks.
    assert "Gather" not in ops or not any("embed_tokens" in n for n in ops["Gather"])
    assert len(ops["GatherBlockQuantized"]) == 1 and "embedding" in q.weights
    inits = {t.name for t in model.graph.initializer}
    assert "/model/embed_tokens/weight" not in inits and "/model/embed_tokens/weight_blocks" in inits
    save_model(model, tmp_path, align=64)
    out = OrtModel(make_session(tmp_path / "model.onnx"), w.dims).step(IDS, 0.5, num_logits=len(IDS))
    ref_logits, ref_probs, _ = reference(skip, IDS, 0.5)
    # Layer 0's routers read the (now quantized) embedding only: close, not bit-equal.
    np.testing.assert_allclose(out.probs[:, 0], ref_probs[:, 0], atol={"int8": 0.02, "int4": 0.2}[quant])
    err = np.abs(out.logits - ref_logits).max() / np.abs(ref_logits).max()
    assert 0 < err < rel_tol


def test_embedding_rows_equal_dequantized_head(skip, tmp_path):
    """GatherBlockQuantized must return exactly the rows MatMulNBits uses as the head (same blocks, same scales)."""
    import onnx
    from onnx import helper

    w = extract_weights(skip)
    model, _ = quantize_model(build_graph(w, "gather", head_matmul=True), w, "int8", log=lambda *_: None)
    emb_out = next(n for n in model.graph.node if n.op_type == "Reshape" and n.name.endswith("_rows")).output[0]
    head = next(n for n in model.graph.node if n.op_type == "MatMulNBits" and "/lm_head/" in n.name)
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    b, s = inits[head.input[1]].astype(np.float32), inits[head.input[2]].reshape(w.dims.vocab, -1, 1)
    dequant = ((b - 128.0) * s).reshape(w.dims.vocab, -1)  # 8-bit, default zero point 128
    model.graph.output.append(helper.make_tensor_value_info(emb_out, onnx.TensorProto.FLOAT, None))
    save_model(model, tmp_path, align=64)
    sess = make_session(tmp_path / "model.onnx")
    feeds = OrtModel(sess, w.dims).feeds([3, 7, 300], 0.5, 1)
    rows = sess.run([emb_out], feeds)[0]
    np.testing.assert_array_equal(rows, dequant[[3, 7, 300]])
    np.testing.assert_allclose(rows, w.embed[[3, 7, 300]], atol=np.abs(w.embed).max() / 127)


def test_unknown_scheme(skip):
    w = extract_weights(skip)
    with pytest.raises(ValueError, match="int3"):
        quantize_model(build_graph(w, "gather", head_matmul=True), w, "int3")
