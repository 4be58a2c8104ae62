"""--resume never runs code planted in runs/<name>/: checkpoints load with torch.load(weights_only=True), a pickle
that carries a callable is refused with a clear message, and the checkpoints the toolkit writes still resume."""
import pathlib

import pytest
import torch

import skipgpt.loader
from skipgpt.__main__ import main
from skipgpt.config import DataConfig, Stage1Config, Stage2Config, TrainConfig
from skipgpt.model import tiny_llama
from skipgpt.train import train
from skipgpt.train_loop import CheckpointError, load_checkpoint


class Planted:
    """Unpickling this calls Path.touch(marker): the stand-in for arbitrary code."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def make_cfg(tmp_path, corpus, name="run"):
    return TrainConfig(name=name, deltas_dir=str(tmp_path / "deltas"), runs_dir=str(tmp_path / "runs"),
                       threads=1, checkpoint_every=2,
                       data=DataConfig(corpus=str(corpus), seq_len=16, batch_size=2, val_batches=1),
                       stage1=Stage1Config(steps=2), stage2=Stage2Config(steps=2))


def plant(path: pathlib.Path, marker: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"routers": Planted(marker), "stats": {}, "params": Planted(marker)}, path)


def test_the_planted_file_really_runs_code_under_a_full_unpickle(tmp_path):
    # Guards the tests below: if this plant were harmless, "marker not created" would prove nothing.
    marker = tmp_path / "ran"
    plant(tmp_path / "evil.pt", marker)
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("planted", ["stage1_routers.pt", "stage1.ckpt"])
def test_resume_refuses_a_planted_pickle(tmp_path, corpus, planted):
    cfg = make_cfg(tmp_path, corpus)
    marker = tmp_path / "ran"
    plant(cfg.run_dir / planted, marker)
    with pytest.raises(CheckpointError, match=rf"refusing to load checkpoint .*{planted}.*never writes"):
        train(cfg, base_model=tiny_llama(), base_info={}, resume=True, progress=False)
    assert not marker.exists()


def test_cli_resume_prints_a_clear_error(tmp_path, corpus, monkeypatch, capsys):
    class Info:
        kind = "hf"

        def to_dict(self):
            return {"name": "tiny"}

    monkeypatch.setattr(skipgpt.loader, "load_base", lambda *a, **k: (tiny_llama(), None, Info()))
    marker = tmp_path / "ran"
    plant(tmp_path / "runs" / "x" / "stage1_routers.pt", marker)
    rc = main(["train", "--name", "x", "--resume", "--corpus", str(corpus), "--deltas-dir", str(tmp_path / "d"),
               "--runs-dir", str(tmp_path / "runs"), "--stage1-steps", "2", "--stage2-steps", "2",
               "--batch-size", "2", "--seq-len", "16", "--val-batches", "1", "--threads", "1"])
    out = capsys.readouterr().out
    assert rc == 2 and "error: refusing to load checkpoint" in out and "stage1_routers.pt" in out
    assert not marker.exists()


def test_checkpoints_the_toolkit_writes_still_resume(tmp_path, corpus):
    cfg = make_cfg(tmp_path, corpus)
    cfg.stage2 = Stage2Config(steps=4)
    # Stop after stage 1 (2 steps) and 2 of 4 stage-2 steps: every kind of checkpoint file exists.
    assert train(cfg, base_model=tiny_llama(), base_info={}, stop_after=4, progress=False) is None
    for name in ("stage1_routers.pt", "stage1.ckpt", "stage2.ckpt"):
        assert isinstance(load_checkpoint(cfg.run_dir / name), dict)
    res = train(cfg, base_model=tiny_llama(), base_info={}, resume=True, progress=False)
    assert res is not None and res["stages"]["stage2"]["steps"] == 4
