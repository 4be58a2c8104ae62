"""The GPU graph (export/gpu_graph.py): model.gpu.onnx shares model.onnx.data byte for byte, computes what the CPU
graph computes (onnxruntime CPU, thresholds dense / mixed / all skipped), and a graph whose tensors differ from
the saved ones is refused instead of reading wrong bytes."""
import numpy as np
import onnx
import pytest

from skipgpt.export.graph_model import build_graph, save_model
from skipgpt.export.gpu_graph import GPU_MODEL, save_sharing
from skipgpt.export.ort_runner import OrtModel, make_session
from skipgpt.export.weights import extract_weights
from tiny_models import routed_tiny


def tiny_weights():
    return extract_weights(routed_tiny(layers=3, vocab=300, router_std=0.5))


def test_gpu_graph_shares_weights_and_matches_cpu_graph(tmp_path):
    w = tiny_weights()
    save_model(build_graph(w, "gather"), tmp_path, align=64)
    save_sharing(build_graph(w, "if"), tmp_path)
    gpu = onnx.load(str(tmp_path / GPU_MODEL), load_external_data=False)
    ext = [t for t in gpu.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert ext and all({e.key: e.value for e in t.external_data}["location"] == "model.onnx.data" for t in ext)
    assert sorted(p.name for p in tmp_path.iterdir()) == [GPU_MODEL, "model.onnx", "model.onnx.data"]
    a = OrtModel(make_session(tmp_path / "model.onnx"), w.dims, capacity=16)
    b = OrtModel(make_session(tmp_path / GPU_MODEL), w.dims, capacity=16)
    ids = [3, 17, 5, 9, 1, 22]
    for thr in (0.0, 0.5, 2.0):
        a.reset(); b.reset()
        ra, rb = a.step(ids, thr, num_logits=len(ids)), b.step(ids, thr, num_logits=len(ids))
        np.testing.assert_allclose(rb.logits, ra.logits, atol=1e-5)
        np.testing.assert_array_equal(rb.probs, ra.probs)


def test_gpu_graph_with_other_weights_is_refused(tmp_path):
    w = tiny_weights()
    save_model(build_graph(w, "gather"), tmp_path, align=64)
    w.embed = w.embed + 1.0
    with pytest.raises(ValueError, match="differs from its twin"):
        save_sharing(build_graph(w, "if"), tmp_path)
    assert not (tmp_path / GPU_MODEL).exists()
