"""Evaluation on tiny random Llamas: perplexity against a direct computation, skip-rate counting, count vs
parameter weighting, deterministic windows, and delta rows (routers, merged LoRA, missing deltas)."""
import json
import math

import numpy as np
import pytest
import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file

from skipgpt.evaluate import (Row, evaluate_rows, goals, perplexity, qo_params, ratio_ci, skip_fractions,
                              sublayer_params, token_windows)
from skipgpt.model import SkipLlama, tiny_llama


def windows(n=4, s=16, seed=0):
    return torch.randint(0, 256, (n, s), generator=torch.Generator().manual_seed(seed))


def test_perplexity_matches_direct_cross_entropy():
    base = tiny_llama(layers=2)
    w = windows()
    res = perplexity(SkipLlama(base).eval(), w, batch=3, mode="dense")  # 3 does not divide 4: ragged last batch
    with torch.no_grad():
        logits = base(input_ids=w).logits
    logp = torch.log_softmax(logits[:, :-1].double(), -1)
    direct = -logp.gather(-1, w[:, 1:, None]).mean().item()
    assert res["nll"] == pytest.approx(direct, rel=1e-5)
    assert res["ppl"] == pytest.approx(math.exp(direct), rel=1e-5)
    assert res["tokens_scored"] == 4 * 15
    assert np.mean(res["window_nll"]) == pytest.approx(direct, rel=1e-5) and len(res["window_nll"]) == 4
    assert res["skip_rate"] == [[0.0, 0.0], [0.0, 0.0]]


def test_skip_rates_count_the_gates_applied():
    skip = SkipLlama(tiny_llama(layers=3)).eval()
    with torch.no_grad():  # layer 1 attention always skipped, layer 2 MLP always skipped
        skip.routers[1].attn.bias.copy_(torch.tensor([-9.0, 9.0]))
        skip.routers[2].mlp.bias.copy_(torch.tensor([-9.0, 9.0]))
    res = perplexity(skip, windows(), mode="hard", threshold=0.5)
    assert res["skip_rate"] == [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    static = perplexity(skip, windows(), mode="static",
                        static_mask=torch.tensor([[True, True], [False, True], [True, False]]))
    assert static["nll"] == pytest.approx(res["nll"], rel=1e-6)  # same sublayers dropped for every token


def test_sublayer_params_are_read_from_the_model():
    base = tiny_llama(layers=2, hidden=64, heads=4, kv_heads=2, inter=128)
    kv = 64 // 4 * 2
    assert sublayer_params(base) == [[2 * 64 * 64 + 2 * 64 * kv, 3 * 64 * 128]] * 2
    assert qo_params(base) == [2 * 64 * 64] * 2


def test_skip_fractions_count_vs_parameter_weighting():
    rates = [[1.0, 0.0], [0.5, 0.5]]
    params = [[1, 3], [1, 3]]
    f = skip_fractions(rates, params, qo=[0.5, 0.5])
    assert f["count"] == pytest.approx(2 / 4)
    assert f["params"] == pytest.approx((1 + 0.5 + 1.5) / 8)
    assert f["attn"] == pytest.approx(0.75) and f["mlp"] == pytest.approx(0.25)
    assert f["weights_read"] == pytest.approx((0.5 + 0.25 + 1.5) / 8)


def test_token_windows_are_the_first_tokens(tmp_path):
    np.save(tmp_path / "test.npy", np.arange(100, dtype=np.uint16))
    w = token_windows(tmp_path / "test.npy", 3, 10)
    assert w.dtype == torch.int64 and w.tolist()[2] == list(range(20, 30))
    with pytest.raises(ValueError, match="fewer than"):
        token_windows(tmp_path / "test.npy", 11, 10)
    with pytest.raises(FileNotFoundError, match="skipgpt corpus"):
        token_windows(tmp_path / "nope.npy", 1, 10)


def _lora_delta(folder, seed=1):
    """A peft adapter with non-zero B (a fresh LoRA is a no-op) saved like train.py does."""
    model = get_peft_model(tiny_llama(layers=2), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(std=0.5)
    model.save_pretrained(str(folder / "lora"))
    return model


def test_rows_merge_lora_restore_the_base_and_report_missing(tmp_path):
    deltas, results = tmp_path / "deltas", tmp_path / "results"
    (deltas / "d-lora").mkdir(parents=True)
    peft_model = _lora_delta(deltas / "d-lora")
    stages = {"stage2": {"steps": 3, "tokens_seen": 96, "wall_s": 1.5}}
    (deltas / "d-lora" / "config.json").write_text(json.dumps({"base": {}, "stages": stages}))
    (deltas / "r").mkdir()
    r = SkipLlama(tiny_llama(layers=2))
    with torch.no_grad():
        r.routers[0].mlp.bias.copy_(torch.tensor([-9.0, 9.0]))
    save_file(r.router_state_dict(), str(deltas / "r" / "routers.safetensors"))
    (deltas / "r" / "config.json").write_text(json.dumps({"base": {"sha256": {"x.gguf": "abc"}}}))
    rows = [Row("dense", "dense"), Row("dense+LoRA", "dense", "d-lora", True), Row("dense again", "dense"),
            Row("routers", "routed", "r"), Row("gone", "routed", "nope", True),
            Row("ShortGPT", "static", mask="m.json"), Row("extra", "routed", "not-trained", optional=True),
            Row("extra+LoRA", "routed", "r", True, optional=True)]
    base = tiny_llama(layers=2)
    w = windows()
    out = evaluate_rows(base, w, {"x.gguf": "abc"}, deltas_dir=deltas, results_dir=results, rows=rows,
                        log=lambda *_: None)
    by = {o["name"]: o for o in out}
    assert "extra" not in by  # an optional row without its delta is left out, not reported missing
    assert "extra+LoRA" not in by  # ... and so is one whose delta lacks the part it needs (no lora/)
    # The merged LoRA row equals the unmerged peft model's perplexity, and the base is restored afterwards.
    with torch.no_grad():
        lg = peft_model(input_ids=w).logits
    direct = -torch.log_softmax(lg[:, :-1].double(), -1).gather(-1, w[:, 1:, None]).mean().item()
    assert by["dense+LoRA"]["nll"] == pytest.approx(direct, rel=1e-5)
    assert by["dense+LoRA"]["nll"] != pytest.approx(by["dense"]["nll"], rel=1e-4)
    assert by["dense again"]["nll"] == by["dense"]["nll"]
    assert by["dense+LoRA"]["training"] == stages
    assert by["routers"]["skip_rate"][0] == [0.0, 1.0] and by["routers"]["skip"]["count"] == pytest.approx(0.25)
    assert by["gone"]["status"] == "missing" and "does not exist" in by["gone"]["reason"]
    assert by["ShortGPT"]["status"] == "missing" and "m.json" in by["ShortGPT"]["reason"]
    # A second run reuses rows whose fingerprint (tokens, base, mask, delta bytes) is unchanged, and recomputes
    # a row whose delta changed.
    prev = {o["name"]: o for o in out}
    prev["routers"] = {**prev["routers"], "ppl": -1.0}  # marker: a reused row is copied, not recomputed
    with torch.no_grad():
        r.routers[1].attn.bias.copy_(torch.tensor([-9.0, 9.0]))
    again = evaluate_rows(base, w, {"x.gguf": "abc"}, deltas_dir=deltas, results_dir=results,
                          rows=rows[:2] + [Row("routers", "routed", "r")], previous=prev, log=lambda *_: None)
    assert [a["reused"] for a in again] == [True, True, True] and again[2]["ppl"] == -1.0
    save_file(r.router_state_dict(), str(deltas / "r" / "routers.safetensors"))
    changed = evaluate_rows(base, w, {"x.gguf": "abc"}, deltas_dir=deltas, results_dir=results,
                            rows=[Row("routers", "routed", "r")], previous=prev, log=lambda *_: None)
    assert changed[0]["reused"] is False and changed[0]["skip_rate"][1] == [1.0, 0.0]
    # A delta trained on another base is refused, not evaluated.
    other = evaluate_rows(base, w, {"x.gguf": "zzz"}, deltas_dir=deltas, results_dir=results,
                          rows=[Row("routers", "routed", "r")], log=lambda *_: None)
    assert other[0]["status"] == "missing" and "another base" in other[0]["reason"]


def test_ratio_ci_brackets_the_ratio_and_is_paired():
    a, b = [2.0, 2.5, 3.0, 2.2], [1.9, 2.4, 2.9, 2.1]  # a is worse by exactly 0.1 nats on every window
    lo, hi = ratio_ci(a, b)
    assert lo == pytest.approx(math.exp(0.1)) and hi == pytest.approx(math.exp(0.1))  # paired: no spread
    lo, hi = ratio_ci([2.0, 3.0, 2.0, 3.0], [2.5, 2.5, 2.5, 2.5])
    assert lo < 1.0 < hi
    assert ratio_ci([], []) is None


def test_goals_use_ratios_and_flag_missing_rows():
    rows = [{"name": "dense+LoRA", "status": "ok", "ppl": 10.0},
            {"name": "routers+LoRA 25%", "status": "ok", "ppl": 10.2},
            {"name": "ShortGPT+LoRA 25%", "status": "ok", "ppl": 12.0},
            {"name": "routers+LoRA 40%", "status": "ok", "ppl": 12.0}]
    g = goals(rows)
    assert g["routers+LoRA 25% within 3% of dense+LoRA"] == {"ratio": pytest.approx(1.02), "ci95": None,
                                                              "met": True}
    assert g["routers+LoRA 40% within 15% of dense+LoRA"]["met"] is False
    assert g["routers+LoRA 25% better than ShortGPT+LoRA 25%"]["met"] is True
    assert g["routers 25% better than ShortGPT 25%"]["met"] is None
    long = goals(rows + [{"name": "routers+LoRA 25% (long run)", "status": "ok", "ppl": 10.1}])
    assert long["routers+LoRA 25% (long run) within 3% of dense+LoRA"]["met"] is True
