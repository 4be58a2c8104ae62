"""`python -m skipgpt build` on a tiny HF Llama folder with generated deltas (random routers, a LoRA saved by peft):
the built folder matches PyTorch with the LoRA unmerged; mismatched or broken deltas are refused and leave nothing."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from skipgpt.export.build import build
from skipgpt.export.deltas import BuildError
from skipgpt.export.manifest import read_manifest
from skipgpt.export.parity import check_parity, reference
from skipgpt.loader import BaseInfo, sha256_file
from skipgpt.model import SkipLlama, tiny_llama

FIXTURE_TOKENIZER = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "tiny" / "tokenizer.json"


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    from transformers import PreTrainedTokenizerFast

    d = tmp_path_factory.mktemp("base")
    model = tiny_llama(seed=3, layers=2, vocab=384)
    with torch.no_grad():
        model.model.embed_tokens.weight.normal_(0, 0.5)
    model.save_pretrained(d)
    PreTrainedTokenizerFast(tokenizer_file=str(FIXTURE_TOKENIZER), bos_token="<|im_start|>", eos_token="<|im_end|>",
                            pad_token="<|im_end|>").save_pretrained(d)
    return d


def base_info(base_dir: Path, **dims) -> dict:
    files = sorted(base_dir.glob("*.safetensors"))
    d = {"layers": 2, "hidden": 64, "heads": 4, "kv_heads": 2, "intermediate": 128, "vocab": 384, **dims}
    return BaseInfo(name=base_dir.name, source=str(base_dir), kind="hf",
                    sha256={f.name: sha256_file(f) for f in files}, dims=d).to_dict()


def make_deltas(tmp: Path, base_dir: Path, info: dict | None = None, seed: int = 0) -> tuple[Path, SkipLlama]:
    """Random routers + a peft LoRA with non-zero B (so merging changes the weights); returns the reference model
    with the LoRA still unmerged (PyTorch forward through peft)."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    out = tmp / f"deltas{seed}"
    out.mkdir()
    g = torch.Generator().manual_seed(seed)
    skip = SkipLlama(LlamaForCausalLM.from_pretrained(base_dir).eval())
    with torch.no_grad():
        for r in skip.routers:
            for lin in (r.attn, r.mlp):
                lin.weight.normal_(0, 1.0, generator=g)
                lin.bias.zero_()
    save_file(skip.router_state_dict(), str(out / "routers.safetensors"))
    skip.base = get_peft_model(skip.base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj",
                                                                                           "gate_proj"]))
    with torch.no_grad():
        for n, p in skip.base.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.05, generator=g)
    skip.base.save_pretrained(str(out / "lora"))
    skip.eval()
    cfg = {"format": "skipgpt-deltas", "version": 1, "training": {"kind": "routed"},
           "base": info if info is not None else base_info(base_dir)}
    (out / "config.json").write_text(json.dumps(cfg))
    return out, skip


def test_build_matches_unmerged_pytorch(tmp_path, base_dir, monkeypatch):
    # GGUF-loaded bases carry is_quantized=True, on which transformers refuses .float(): build like that.
    import skipgpt.loader as loader

    real = loader.load_base

    def load_like_gguf(source, **kw):
        model, tok, info = real(source, **kw)
        model.is_quantized = True
        return model, tok, info

    monkeypatch.setattr(loader, "load_base", load_like_gguf)
    deltas, ref_model = make_deltas(tmp_path, base_dir)
    out = build(str(base_dir), deltas, tmp_path / "models" / "tiny-built", greedy_steps=4, log=lambda *_: None)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "model.gpu.onnx", "model.onnx",
                                                     "model.onnx.data", "parity.json", "tokenizer.json"]
    assert [p.name for p in out.parent.iterdir()] == ["tiny-built"]  # temp folder cleaned up
    man = read_manifest(out)
    assert [d.name for d in man.provenance.deltas] == [f"{deltas.name}/routers.safetensors", f"{deltas.name}/lora"]
    assert man.provenance.base_sha256 and man.special_tokens.code["<filename>"] == 6
    assert check_parity(out) == []
    # parity.json was written from the merged model: compare it with the LoRA applied unmerged through peft.
    doc = json.loads((out / "parity.json").read_text())
    for case in doc["cases"]:
        logits, probs, dec = reference(ref_model, case["prompt_ids"], case["threshold"])
        np.testing.assert_allclose(np.array(case["logits"]), logits[:, : case["logits_vocab"]], atol=1e-4)
        np.testing.assert_array_equal(np.array(case["decisions"]), dec)
    assert any(0 < c["executed_fraction"] < 1 for c in doc["cases"])


def test_refuses_deltas_of_another_base(tmp_path, base_dir):
    info = base_info(base_dir)
    info["sha256"] = {k: "0" * 64 for k in info["sha256"]}
    deltas, _ = make_deltas(tmp_path, base_dir, info=info)
    with pytest.raises(BuildError, match="trained on base"):
        build(str(base_dir), deltas, tmp_path / "out", log=lambda *_: None)
    assert not (tmp_path / "out").exists()


def test_refuses_dims_mismatch(tmp_path, base_dir):
    info = base_info(base_dir, hidden=576)
    info["sha256"] = {}
    deltas, _ = make_deltas(tmp_path, base_dir, info=info)
    with pytest.raises(BuildError, match="dims"):
        build(str(base_dir), deltas, tmp_path / "out", log=lambda *_: None)


def test_broken_routers_leave_no_folder(tmp_path, base_dir):
    deltas, _ = make_deltas(tmp_path, base_dir)
    save_file({"layers.0.attn.weight": torch.zeros(2, 64)}, str(deltas / "routers.safetensors"))
    with pytest.raises(BuildError, match="router deltas do not fit"):
        build(str(base_dir), deltas, tmp_path / "models" / "x", log=lambda *_: None)
    assert not (tmp_path / "models").exists()  # refused before anything was written


def test_error_during_export_leaves_no_folder(tmp_path, base_dir, monkeypatch):
    import skipgpt.export.build as b

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(b, "write_parity", boom)  # fails after model.onnx has been written
    deltas, _ = make_deltas(tmp_path, base_dir)
    with pytest.raises(RuntimeError, match="disk full"):
        build(str(base_dir), deltas, tmp_path / "models" / "x", log=lambda *_: None)
    assert list((tmp_path / "models").iterdir()) == []  # neither the target nor the temp folder remains


@pytest.mark.parametrize("setup, message", [
    (lambda d: shutil.rmtree(d), "not found"),
    (lambda d: (d / "config.json").unlink(), "no config.json"),
    (lambda d: (d / "config.json").write_text('{"format": "x"}'), "is not 'skipgpt-deltas'"),
])
def test_bad_deltas_folder(tmp_path, base_dir, setup, message):
    deltas, _ = make_deltas(tmp_path, base_dir)
    setup(deltas)
    with pytest.raises(BuildError, match=message):
        build(str(base_dir), deltas, tmp_path / "out", log=lambda *_: None)


def test_refuses_non_empty_out(tmp_path, base_dir):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(BuildError, match="not empty"):
        build(str(base_dir), None, tmp_path / "out", log=lambda *_: None)
    assert (tmp_path / "out" / "keep.txt").exists()


def test_sigterm_during_build_leaves_no_folder(tmp_path, base_dir, monkeypatch):
    import os
    import signal

    import skipgpt.export.build as b
    from skipgpt.__main__ import main

    monkeypatch.setattr(b, "write_parity", lambda *a, **k: os.kill(os.getpid(), signal.SIGTERM))
    previous = signal.getsignal(signal.SIGTERM)
    deltas, _ = make_deltas(tmp_path, base_dir)
    try:
        with pytest.raises(SystemExit) as e:
            main(["build", "--base", str(base_dir), "--deltas", str(deltas), "--out", str(tmp_path / "models" / "x")])
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert e.value.code == 128 + signal.SIGTERM
    assert list((tmp_path / "models").iterdir()) == []  # the temp folder was removed on the way out


def test_cli_reports_errors_without_traceback(tmp_path, base_dir, capsys):
    from skipgpt.__main__ import main

    rc = main(["build", "--base", str(base_dir), "--deltas", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert rc == 1
    assert "error: deltas folder" in capsys.readouterr().err
    rc = main(["build", "--base", str(tmp_path / "missing-base"), "--out", str(tmp_path / "o")])
    assert rc == 1
    assert "not found" in capsys.readouterr().err


def test_static_deltas_export_their_mask(tmp_path, base_dir):
    deltas, _ = make_deltas(tmp_path, base_dir)
    (deltas / "routers.safetensors").unlink()
    mask = [[True, False], [False, True]]
    (deltas / "mask.json").write_text(json.dumps({"executed": mask}))
    cfg = json.loads((deltas / "config.json").read_text())
    cfg["training"] = {"kind": "static", "static_mask_file": str(deltas / "mask.json")}
    (deltas / "config.json").write_text(json.dumps(cfg))
    out = build(str(base_dir), deltas, tmp_path / "static", greedy_steps=2, log=lambda *_: None)
    doc = json.loads((out / "parity.json").read_text())
    for case in doc["cases"]:
        want = np.ones((2, 2)) if case["threshold"] == 0 else np.array(mask)
        assert (np.array(case["decisions"]) == want[None]).all()
    assert read_manifest(out).provenance.deltas[0].name == "static-mask:mask.json"
    cfg["training"]["static_mask_file"] = "nowhere.json"
    (deltas / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(BuildError, match="nowhere.json"):
        build(str(base_dir), deltas, tmp_path / "static2", log=lambda *_: None)
