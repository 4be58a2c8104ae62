"""A deltas folder whose routers.safetensors is not a safetensors file (e.g. a torch.save pickle under that name)
is refused with an error naming the file, never a bare "header too large", and never unpickled."""
import json
import pathlib

import pytest
import torch
from safetensors.torch import save_file

from skipgpt.__main__ import main
from skipgpt.export.deltas import BuildError, apply_deltas, load_safetensors, read_delta_config
from skipgpt.model import SkipLlama, tiny_llama


class Planted:
    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def deltas_folder(tmp_path) -> pathlib.Path:
    d = tmp_path / "deltas" / "bad"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"format": "skipgpt-deltas", "version": 1,
                                               "training": {"kind": "routed"}}))
    return d


def test_pickle_named_safetensors_is_a_clear_build_error(tmp_path):
    d = deltas_folder(tmp_path)
    marker = tmp_path / "ran"
    torch.save({"layers.0.attn.weight": Planted(marker)}, d / "routers.safetensors")
    msg = rf"{d / 'routers.safetensors'} is not a safetensors file \(it looks like a PyTorch/pickle file\)"
    with pytest.raises(BuildError, match=msg):
        read_delta_config(d)  # fails fast, before the base model is loaded
    with pytest.raises(BuildError, match=msg):
        apply_deltas(SkipLlama(tiny_llama()), d, log=lambda *_: None)
    assert not marker.exists()


def test_truncated_file_is_named_too(tmp_path):
    path = tmp_path / "routers.safetensors"
    path.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{\"a\":")
    with pytest.raises(BuildError, match=r"routers.safetensors is not a safetensors file: .*header"):
        load_safetensors(path)


def test_real_safetensors_still_load(tmp_path):
    d = deltas_folder(tmp_path)
    skip = SkipLlama(tiny_llama())
    save_file(skip.router_state_dict(), str(d / "routers.safetensors"))
    assert set(load_safetensors(d / "routers.safetensors")) == set(skip.router_state_dict())
    used = apply_deltas(SkipLlama(tiny_llama()), d, log=lambda *_: None)
    assert used[0].name == "bad/routers.safetensors"


def test_build_cli_prints_the_error_without_a_traceback(tmp_path, capsys):
    d = deltas_folder(tmp_path)
    torch.save({"x": torch.zeros(2)}, d / "routers.safetensors")
    rc = main(["build", "--base", str(tmp_path / "no-base"), "--deltas", str(d), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 1 and "routers.safetensors is not a safetensors file" in err and "Traceback" not in err


def test_deltas_applied_merges_lora_then_restores_the_base(tmp_path, corpus):
    """One loaded base serves several delta folders (curve.py, forecast_cli.py): inside the context the LoRA is
    merged and the routers loaded; afterwards the base's weights are bit-identical to before, even on an error."""
    from skipgpt.config import DataConfig, Stage1Config, Stage2Config, TrainConfig
    from skipgpt.export.deltas import deltas_applied
    from skipgpt.train import train

    cfg = TrainConfig(name="r", deltas_dir=str(tmp_path / "deltas"), runs_dir=str(tmp_path / "runs"), threads=1,
                      data=DataConfig(corpus=str(corpus), seq_len=16, batch_size=2, val_batches=1),
                      stage1=Stage1Config(steps=2), stage2=Stage2Config(steps=2, lr=1e-2))
    train(cfg, base_model=tiny_llama(), progress=False)
    folder = tmp_path / "deltas" / "r"
    base = tiny_llama()
    before = {k: v.clone() for k, v in base.state_dict().items()}
    with deltas_applied(base, folder) as skip:
        merged = base.state_dict()
        assert any(not torch.equal(merged[k], before[k]) for k in before)  # the LoRA is in the weights
        routers = load_safetensors(folder / "routers.safetensors")
        assert all(torch.equal(skip.router_state_dict()[k], routers[k]) for k in routers)
    after = base.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in before)
    with pytest.raises(RuntimeError, match="boom"):
        with deltas_applied(base, folder):
            raise RuntimeError("boom")
    assert all(torch.equal(base.state_dict()[k], before[k]) for k in before)
