"""Exported ONNX graph vs PyTorch SkipLlama: logits/probs/decisions in dense and routed mode for every skip mode,
prefill then cached decode (cache growth, capacity > length with junk rows), K/V of attention-skipped tokens, and
that skipped rows really are not computed (onnxruntime profile shapes)."""
import json

import numpy as np
import pytest
import torch

from skipgpt.export.graph_model import SKIP_MODES, build_graph, save_model
from skipgpt.export.ort_runner import OrtModel, make_session
from skipgpt.export.parity import reference, reference_kv
from skipgpt.export.weights import extract_weights
from skipgpt.model import SkipLlama, tiny_llama
from tiny_models import routed_tiny

THRESHOLDS = [0.0, 0.5, 0.6, 2.0]


@pytest.fixture(scope="module")
def skip():
    return routed_tiny(layers=3, vocab=300, router_std=0.5)


@pytest.fixture(scope="module")
def sessions(skip, tmp_path_factory):
    w = extract_weights(skip)
    out = {}
    for mode in SKIP_MODES:
        d = tmp_path_factory.mktemp(mode)
        save_model(build_graph(w, mode), d, align=64)
        out[mode] = (make_session(d / "model.onnx", threads=1), w.dims)
    return out


IDS = [5, 17, 250, 3, 99, 42, 7, 120, 61, 8, 200, 33]


def run_incremental(sess, dims, ids, thr, prefill=7, capacity=4, junk=False):
    """Prefill `prefill` tokens, then decode one by one; returns logits [S, V] and probs [S, L, 2]."""
    m = OrtModel(sess, dims, capacity=capacity)
    if junk:  # rows >= past_length must be ignored, whatever they hold
        m.k[:] = np.random.default_rng(1).normal(size=m.k.shape) * 100
        m.v[:] = np.random.default_rng(2).normal(size=m.v.shape) * 100
    o = m.step(ids[:prefill], thr, num_logits=prefill)
    logits, probs = [o.logits], [o.probs]
    for t in ids[prefill:]:
        o = m.step([t], thr)
        logits.append(o.logits)
        probs.append(o.probs)
    return np.concatenate(logits), np.concatenate(probs), m


@pytest.mark.parametrize("mode", SKIP_MODES)
@pytest.mark.parametrize("thr", THRESHOLDS)
def test_prefill_then_decode_matches_pytorch(skip, sessions, mode, thr):
    ref_logits, ref_probs, ref_dec = reference(skip, IDS, thr)
    logits, probs, _ = run_incremental(*sessions[mode], IDS, thr)
    np.testing.assert_allclose(probs, ref_probs, atol=1e-5)
    np.testing.assert_array_equal((probs >= np.float32(thr)).astype(np.int8), ref_dec)
    np.testing.assert_allclose(logits, ref_logits, atol=1e-4, rtol=1e-4)


def test_thresholds_give_mixed_and_different_outputs(skip):
    # Guards the tests above against vacuity: 0.5 really mixes, and routing really changes the logits.
    dense, _, _ = reference(skip, IDS, 0.0)
    routed, _, dec = reference(skip, IDS, 0.5)
    assert 0.2 < dec.mean() < 0.8
    assert np.abs(dense - routed).max() > 1e-2


@pytest.mark.parametrize("mode", ["gather", "if"])
def test_capacity_larger_than_length_with_junk_rows(skip, sessions, mode):
    ref_logits, _, _ = reference(skip, IDS, 0.5)
    logits, _, m = run_incremental(*sessions[mode], IDS, 0.5, prefill=3, capacity=64, junk=True)
    assert m.k.shape[3] == 64  # no growth happened: masking alone kept junk out
    np.testing.assert_allclose(logits, ref_logits, atol=1e-4, rtol=1e-4)


def test_num_logits_selects_last_positions(skip, sessions):
    sess, dims = sessions["gather"]
    ref_logits, _, _ = reference(skip, IDS, 0.5)
    for n in (1, 3, len(IDS)):
        out = OrtModel(sess, dims).step(IDS, 0.5, num_logits=n)
        assert out.logits.shape == (n, dims.vocab)
        np.testing.assert_allclose(out.logits, ref_logits[-n:], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("mode", ["gather", "if"])
def test_kv_of_attention_skipped_tokens_is_returned(skip, sessions, mode):
    thr = 0.5
    _, _, dec = reference(skip, IDS, thr)
    assert (dec[:, :, 0] == 0).any(), "test needs some skipped attention"
    ref_k, ref_v = reference_kv(skip, IDS, thr)  # [L, KVH, S, D]
    m = OrtModel(*sessions[mode], capacity=2)
    m.step(IDS[:5], thr)
    for t in IDS[5:]:
        m.step([t], thr)
    np.testing.assert_allclose(m.k[:, 0, :, : len(IDS)], ref_k, atol=1e-5)
    np.testing.assert_allclose(m.v[:, 0, :, : len(IDS)], ref_v, atol=1e-5)


def test_skipped_rows_are_not_computed(skip, tmp_path):
    """Real skipping: the q_proj / gate_up_proj MatMuls of each layer see only the executed rows."""
    from skipgpt.export.ort_runner import ort

    w = extract_weights(skip)
    save_model(build_graph(w, "gather"), tmp_path, align=64)
    so = ort.SessionOptions()
    so.enable_profiling = True
    so.profile_file_prefix = str(tmp_path / "prof")
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(tmp_path / "model.onnx"), so, providers=["CPUExecutionProvider"])
    m = OrtModel(sess, w.dims)
    out = m.step(IDS, 0.5)
    events = json.loads(open(sess.end_profiling()).read())
    rows = {}
    for e in events:
        name = e.get("name", "")
        for key in ("attn/q_proj/MatMul", "mlp/gate_up_proj/MatMul"):
            if e.get("cat") == "Node" and name.startswith("/model/layers.") and key + "_kernel_time" in name:
                layer = int(name.split("/")[2].split(".")[1])
                rows[(layer, key.split("/")[0])] = e["args"]["input_type_shape"][0]["float"][0]
    dec = (out.probs >= 0.5)
    for layer in range(w.dims.layers):
        assert rows[(layer, "attn")] == int(dec[:, layer, 0].sum())
        assert rows[(layer, "mlp")] == int(dec[:, layer, 1].sum())
    assert any(rows[k] < len(IDS) for k in rows)


def test_lora_still_attached_is_refused(skip):
    from peft import LoraConfig, get_peft_model

    m = SkipLlama(tiny_llama(layers=2, vocab=300))
    m.base = get_peft_model(m.base, LoraConfig(r=2, target_modules=["q_proj"]))
    with pytest.raises(ValueError, match="merge"):
        extract_weights(m)


def test_greedy_reference_with_proposals_equals_token_by_token(skip, sessions):
    from skipgpt.export.parity import greedy_reference

    sess, dims = sessions["gather"]
    ort_model = OrtModel(sess, dims)
    rng = np.random.default_rng(0)
    proposers = {"onnx": lambda p, n, t: ort_model.greedy(p, n, t),
                 "wrong": lambda p, n, t: rng.integers(0, 300, n).tolist()}  # exercises the correction path
    for thr in (0.0, 0.5):
        plain, _, _ = greedy_reference(skip, IDS[:6], 6, thr)
        seq, ref_model = list(IDS[:6]), []
        for _ in range(6):  # the definition: full recompute, one token at a time
            ref_model.append(int(reference(skip, seq, thr)[0][-1].argmax()))
            seq.append(ref_model[-1])
        assert plain == ref_model
        for name, prop in proposers.items():
            toks, logits, probs = greedy_reference(skip, IDS[:6], 6, thr, prop)
            assert toks == plain, name
            assert logits.shape[0] == 12 and probs.shape[0] == 12
