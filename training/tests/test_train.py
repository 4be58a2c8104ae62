"""Stage 1 / stage 2 training on a tiny random Llama: which parameters learn, the sparsity term, τ schedule,
resume == uninterrupted, delta folder contents, LoRA-only reference runs."""
import json

import pytest
import torch
from safetensors.torch import load_file

from skipgpt.config import ConfigError, DataConfig, Stage1Config, Stage2Config, TrainConfig, load_static_mask
from skipgpt.model import SkipLlama, tiny_llama
from skipgpt.train import add_lora, sparsity_term, stage1_step, stage2_step, train


def make_cfg(tmp_path, corpus, name="run", **kw):
    return TrainConfig(name=name, deltas_dir=str(tmp_path / "deltas"), runs_dir=str(tmp_path / "runs"),
                       threads=1, checkpoint_every=2,
                       data=DataConfig(corpus=str(corpus), seq_len=16, batch_size=2, val_batches=2),
                       stage1=Stage1Config(steps=4), stage2=Stage2Config(steps=3), **kw)


def test_tau_schedule_is_linear_5_to_1():
    cfg = Stage1Config(steps=5)
    assert [cfg.tau(i) for i in range(5)] == pytest.approx([5.0, 4.0, 3.0, 2.0, 1.0])


def test_sparsity_term_is_global_count_weighted():
    gates = torch.zeros(2, 3, 4, 2)  # [B, S, L, 2]
    gates[..., 0] = 1.0  # all attention runs, all MLP skipped → r = 0.5
    term, r = sparsity_term(gates, target_skip=0.25)
    assert float(r) == pytest.approx(0.5)
    assert float(term) == pytest.approx(0.25)  # |(1 - 0.25) - 0.5|
    term, _ = sparsity_term(gates, target_skip=0.5)
    assert float(term) == pytest.approx(0.0)


def _grads(model):
    return {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


def test_stage1_gradients_reach_only_routers():
    torch.manual_seed(0)
    m = SkipLlama(tiny_llama())
    for p in m.parameters():
        p.requires_grad_(False)
    for p in m.routers.parameters():
        p.requires_grad_(True)
    batch = torch.randint(0, 256, (2, 9))
    stage1_step(m, Stage1Config(steps=3))(batch, 0).loss.backward()
    got = _grads(m)
    assert got and all(n.startswith("routers.") for n in got)
    assert {f"routers.{i}.{k}.weight" for i in range(2) for k in ("attn", "mlp")} <= got


def test_stage2_gradients_reach_only_lora():
    m = SkipLlama(tiny_llama())
    add_lora(m, Stage2Config())
    batch = torch.randint(0, 256, (2, 9))
    stage2_step(m, {"mode": "hard", "threshold": 0.5})(batch, 0).loss.backward()
    got = _grads(m)
    assert got and all("lora_" in n for n in got)
    assert any("q_proj.lora_B" in n for n in got) and any("gate_proj.lora_B" in n for n in got)
    assert not any(p.requires_grad for p in m.routers.parameters())


def test_routed_run_writes_deltas(tmp_path, corpus):
    cfg = make_cfg(tmp_path, corpus, name="skip")
    res = train(cfg, base_model=tiny_llama(), base_info={"name": "tiny"}, progress=False)
    out = tmp_path / "deltas" / "skip"
    routers = load_file(str(out / "routers.safetensors"))
    assert routers["layers.1.attn.weight"].shape == (2, 64) and routers["layers.0.mlp.bias"].shape == (2,)
    assert (out / "lora" / "adapter_model.safetensors").is_file()
    assert json.loads((out / "lora" / "adapter_config.json").read_text())["r"] == 16
    conf = json.loads((out / "config.json").read_text())
    assert conf["base"] == {"name": "tiny"} and conf["stages"]["stage1"]["steps"] == 4
    assert conf["stages"]["stage2"]["tokens_seen"] == 3 * 2 * 16
    assert res["stages"]["stage1"]["val"]["per_layer_skip"] and 0 <= res["stages"]["stage2"]["val"]["skip"] <= 1


def test_resume_matches_uninterrupted_run(tmp_path, corpus):
    a = make_cfg(tmp_path, corpus, name="a")
    full = train(a, base_model=tiny_llama(), base_info={}, progress=False)
    b = make_cfg(tmp_path, corpus, name="b")
    # Interrupt in stage 1 (after 2 steps, a checkpoint boundary), then mid stage 2, then finish.
    assert train(b, base_model=tiny_llama(), base_info={}, stop_after=2, progress=False) is None
    assert train(b, base_model=tiny_llama(), base_info={}, resume=True, stop_after=3, progress=False) is None
    resumed = train(b, base_model=tiny_llama(), base_info={}, resume=True, progress=False)
    ra = load_file(str(tmp_path / "deltas/a/routers.safetensors"))
    rb = load_file(str(tmp_path / "deltas/b/routers.safetensors"))
    assert all(torch.equal(ra[k], rb[k]) for k in ra)
    la = load_file(str(tmp_path / "deltas/a/lora/adapter_model.safetensors"))
    lb = load_file(str(tmp_path / "deltas/b/lora/adapter_model.safetensors"))
    assert all(torch.equal(la[k], lb[k]) for k in la)
    assert full["stages"]["stage2"]["train_loss_last10"] == resumed["stages"]["stage2"]["train_loss_last10"]


def test_lora_only_static_and_dense(tmp_path, corpus):
    mask = tmp_path / "static_mask.json"
    mask.write_text(json.dumps({"executed": [[True, False], [False, True]]}))
    res = train(make_cfg(tmp_path, corpus, name="st", kind="static", static_mask_file=str(mask)),
                base_model=tiny_llama(), base_info={}, progress=False)
    assert res["stages"]["stage2"]["val"]["skip"] == pytest.approx(0.5)
    assert not (tmp_path / "deltas/st/routers.safetensors").exists()
    res = train(make_cfg(tmp_path, corpus, name="dn", kind="dense"), base_model=tiny_llama(), base_info={},
                progress=False)
    assert res["stages"]["stage2"]["val"]["skip"] == 0.0


def test_config_validation_and_mask_errors(tmp_path):
    with pytest.raises(ConfigError, match="target_skip"):
        TrainConfig(name="x", stage1=Stage1Config(target_skip=1.5)).validate()
    with pytest.raises(ConfigError, match="static-mask-file"):
        TrainConfig(name="x", kind="static").validate()
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps({"executed": [[True, False]]}))
    with pytest.raises(ConfigError, match="1 layers, the model has 2"):
        load_static_mask(bad, 2)
    bad.write_text(json.dumps({"executed": [[1, 0], [1, 1]]}))
    with pytest.raises(ConfigError, match="expected"):
        load_static_mask(bad, 2)


def test_stage1_lr_schedule_constant_or_cosine(tmp_path, corpus):
    lrs = {}
    for sched in ("constant", "cosine"):
        cfg = make_cfg(tmp_path, corpus, name=sched, skip_stage2=True)
        cfg.stage1 = Stage1Config(steps=6, lr=1e-3, lr_schedule=sched)
        train(cfg, base_model=tiny_llama(), base_info={}, progress=False)
        lrs[sched] = [h["lr"] for h in json.loads((tmp_path / "runs" / sched / "history.json").read_text())["stage1"]]
    assert lrs["constant"] == pytest.approx([1e-3] * 6)
    cos = lrs["cosine"]  # one warm-up step at full LR, then a cosine decay towards 0
    assert cos[0] == pytest.approx(1e-3) and all(a > b for a, b in zip(cos[1:], cos[2:])) and cos[-1] < 0.2e-3
    with pytest.raises(ConfigError, match="lr_schedule"):
        TrainConfig(name="x", stage1=Stage1Config(lr_schedule="step")).validate()


def test_distill_weight_one_is_the_kl_to_the_dense_base():
    """w = 1: the loss is KL(dense base ‖ routed); with adapters at their zero init and every sublayer run it is 0,
    with routing it is > 0 and its gradient reaches the LoRA matrices only."""
    torch.manual_seed(0)
    m = SkipLlama(tiny_llama())
    add_lora(m, Stage2Config())
    m.eval()  # no LoRA dropout: the student equals the teacher exactly in dense mode
    batch = torch.randint(0, 256, (2, 9))
    same = stage2_step(m, {"mode": "dense"}, distill=1.0, teacher=m)(batch, 0)
    assert float(same.loss.detach()) == pytest.approx(0.0, abs=1e-5)
    static = torch.tensor([[False, True], [True, False]])
    routed = stage2_step(m, {"mode": "static", "static_mask": static}, distill=1.0, teacher=m)(batch, 0)
    assert float(routed.loss.detach()) > 1e-3
    routed.loss.backward()
    got = _grads(m)
    assert got and all("lora_" in n for n in got)


def test_distill_mixes_ce_and_kl():
    torch.manual_seed(0)
    m = SkipLlama(tiny_llama())
    add_lora(m, Stage2Config())
    m.eval()
    batch = torch.randint(0, 256, (2, 9))
    fwd = {"mode": "static", "static_mask": torch.tensor([[False, True], [True, True]])}
    ce = float(stage2_step(m, fwd)(batch, 0).loss.detach())
    kl = float(stage2_step(m, fwd, distill=1.0, teacher=m)(batch, 0).loss.detach())
    mixed = float(stage2_step(m, fwd, distill=0.25, teacher=m)(batch, 0).loss.detach())
    assert mixed == pytest.approx(0.75 * ce + 0.25 * kl, rel=1e-5)


def test_routers_from_reuses_another_runs_routers(tmp_path, corpus):
    first = train(make_cfg(tmp_path, corpus, name="first", skip_stage2=True), base_model=tiny_llama(), progress=False)
    src = tmp_path / "deltas" / "first"
    cfg = make_cfg(tmp_path, corpus, name="second", routers_from=str(src))
    cfg.stage2 = Stage2Config(steps=2, distill=0.5)
    res = train(cfg, base_model=tiny_llama(), progress=False)
    a, b = load_file(str(src / "routers.safetensors")), load_file(str(tmp_path / "deltas/second/routers.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert res["stages"]["stage1"]["tokens_seen"] == first["stages"]["stage1"]["tokens_seen"]
    assert res["stages"]["stage1"]["routers_from"] == str(src)
    saved = json.loads((tmp_path / "deltas/second/config.json").read_text())
    assert saved["training"]["stage2"]["distill"] == 0.5 and saved["stages"]["stage2"]["steps"] == 2
    with pytest.raises(ConfigError, match="routers.safetensors"):
        train(make_cfg(tmp_path, corpus, name="third", routers_from=str(tmp_path)), base_model=tiny_llama(),
              progress=False)


def test_lora_from_continues_another_runs_adapter(tmp_path, corpus):
    train(make_cfg(tmp_path, corpus, name="first"), base_model=tiny_llama(), progress=False)
    src = tmp_path / "deltas" / "first"
    m = SkipLlama(tiny_llama())
    from skipgpt.train import load_lora

    load_lora(m, src)
    saved = load_file(str(src / "lora" / "adapter_model.safetensors"))
    got = {n: p for n, p in m.base.named_parameters() if "lora_" in n}
    assert got and all(p.requires_grad and p.dtype == torch.float32 for p in got.values())
    for k, v in saved.items():  # peft names: ...lora_A.weight on disk, ...lora_A.default.weight in the model
        match = [p for n, p in got.items() if n.endswith(k.split("base_model.model.", 1)[1].replace(
            ".weight", ".default.weight"))]
        assert len(match) == 1 and torch.equal(match[0].detach(), v.float())
    res = train(make_cfg(tmp_path, corpus, name="second", routers_from=str(src), lora_from=str(src)),
                base_model=tiny_llama(), progress=False)
    assert res["stages"]["stage2"]["steps"] == 3
    with pytest.raises(ConfigError, match="lora/"):
        load_lora(SkipLlama(tiny_llama()), tmp_path)
