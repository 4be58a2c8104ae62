"""Devices and data parallelism (skipgpt/runtime.py, skipgpt/gpu_run.py): two CPU processes under torchrun (gloo)
train what one process trains with the same global batch; sharded Gumbel/dropout draws equal the whole-batch ones;
the time limit checkpoints and resumes exactly; the GPU script's smoke run and its carry packs keep working."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from skipgpt import gpu_pack, gpu_run
from skipgpt.config import DataConfig, Stage1Config, Stage2Config, TrainConfig
from skipgpt.model import tiny_llama
from skipgpt.runtime import DeviceError, RowShard, ShardedDropout, gumbel_hard, resolve_device
from skipgpt.train import train

TRAINING = Path(__file__).resolve().parents[1]
RUN = "smollm2-135m-skip25-gpu"  # gpu_run's default --name


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return {**load_file(str(folder / "routers.safetensors")),
            **load_file(str(folder / "lora" / "adapter_model.safetensors"))}


def test_two_processes_equal_one_process_with_the_same_global_batch(tmp_path):
    """--smoke: tiny random Llama, global batch 4 × 16 tokens, 4 router steps (Gumbel) then 3 LoRA steps (dropout
    0.1), float32. Tolerance 1e-6 absolute on the weights (routers reach ~2, LoRA ~0.1): only the order of float sums
    differs (two half-batch gradients averaged vs one); a missing shard or r all-reduce gives differences >1e-3."""
    common = ["--smoke", "--threads", "1"]
    two = tmp_path / "two"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "scripts/gpu_train.py", *common, "--procs", "2", "--runs-dir",
                           str(two / "runs"), "--deltas-dir", str(two / "deltas"), "--out", str(two / "out")],
                          cwd=TRAINING, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "tokens/s" in proc.stdout
    one = tmp_path / "one"  # the same script in this process: one rank holds the whole batch
    assert gpu_run.main([*common, "--runs-dir", str(one / "runs"), "--deltas-dir", str(one / "deltas"),
                         "--out", str(one / "out")]) == 0

    w1, w2 = _weights(one / "deltas" / RUN), _weights(two / "deltas" / RUN)
    assert set(w1) == set(w2) and len(w1) > 8
    for k in w1:
        assert torch.allclose(w1[k], w2[k], rtol=0, atol=1e-6), (k, float((w1[k] - w2[k]).abs().max()))
    assert any(not torch.equal(w, torch.tensor([2.0, -2.0])) for k, w in w2.items() if k.endswith(".bias"))  # trained
    h1 = json.loads((one / "runs" / RUN / "history.json").read_text())
    h2 = json.loads((two / "runs" / RUN / "history.json").read_text())
    for stage in ("stage1", "stage2"):  # logged losses are the global batch's, on both sides
        assert [r["loss"] for r in h1[stage]] == pytest.approx([r["loss"] for r in h2[stage]], rel=1e-5)
        assert [r["skip"] for r in h1[stage]] == pytest.approx([r["skip"] for r in h2[stage]], abs=1e-6)
    conf = json.loads((two / "deltas" / RUN / "config.json").read_text())
    assert conf["runtime"]["world_size"] == 2 and conf["runtime"]["device"] == "cpu"
    summary = json.loads((two / "out" / "summary.json").read_text())
    assert summary["finished"] and summary["stages"]["stage1"]["tokens_seen"] == 4 * 4 * 16
    assert summary["stages"]["stage2"]["tokens_per_s"] > 0
    assert (two / "out" / RUN / "routers.safetensors").is_file()


def test_sharded_draws_equal_the_whole_batch_rows():
    logits = torch.randn(4, 5, 2)
    torch.manual_seed(3)
    full = F.gumbel_softmax(logits, tau=2.0, hard=True)
    torch.manual_seed(3)
    part = gumbel_hard(logits[2:4], 2.0, RowShard(2, 4, 4))
    assert torch.equal(part, full[2:4])
    torch.manual_seed(3)
    assert not torch.equal(gumbel_hard(logits[2:4], 2.0), full[2:4])  # a plain local draw differs
    x = torch.randn(4, 3, 32)
    torch.manual_seed(5)
    full = F.dropout(x, 0.3, training=True)
    torch.manual_seed(5)
    drop = ShardedDropout(0.3, RowShard(0, 2, 4)).train()
    assert torch.equal(drop(x[0:2]), full[0:2])
    assert torch.equal(drop.eval()(x[0:2]), x[0:2])


def test_device_choice():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(DeviceError, match="one of"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(Exception, match="device must be"):
        TrainConfig(name="x", device="gpu").validate()


def test_time_limit_checkpoints_and_resume_is_exact(tmp_path):
    corpus = gpu_run.random_corpus(tmp_path / "corpus", 256, 5000)

    def cfg(name):
        return TrainConfig(name=name, deltas_dir=str(tmp_path / "deltas"), runs_dir=str(tmp_path / "runs"), threads=1,
                           checkpoint_every=10, device="cpu",
                           data=DataConfig(corpus=str(corpus), seq_len=16, batch_size=2, val_batches=1),
                           stage1=Stage1Config(steps=3), stage2=Stage2Config(steps=2, save_dtype="float32"))

    train(cfg("a"), base_model=tiny_llama(), base_info={}, progress=False)
    # A deadline already past: each call does one step, checkpoints it (off the every-10 grid) and stops.
    calls = 0
    while train(cfg("b"), base_model=tiny_llama(), base_info={}, progress=False, resume=calls > 0,
                deadline=time.time()) is None:
        calls += 1
        assert calls < 10
    assert calls == 3  # 3 + 2 steps in 4 calls: one step per stage a call enters (stage 1 ends inside call 3)
    wa, wb = _weights(tmp_path / "deltas" / "a"), _weights(tmp_path / "deltas" / "b")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_gpu_pack_round_trip_and_damage(tmp_path):
    base = tmp_path / "base.gguf"
    base.write_bytes(os.urandom(150_000))
    corpus = gpu_run.random_corpus(tmp_path / "corpus", 256, 40_000)
    lib = tmp_path / "gguf"
    (lib / "sub").mkdir(parents=True)
    (lib / "__init__.py").write_text("X = 1\n")
    (lib / "sub" / "m.py").write_text("Y = 2\n")
    (tmp_path / "gguf-9.9.dist-info").mkdir()
    (tmp_path / "gguf-9.9.dist-info" / "METADATA").write_text("Name: gguf\nVersion: 9.9\n")
    out = tmp_path / "pack"
    m = gpu_pack.pack(base, corpus, out, parts=3, part_mib=0.1, pylib=[lib, tmp_path / "gguf-9.9.dist-info"])
    assert len(m["parts"]) == 3 and all(p["bytes"] <= 0.1 * (1 << 20) for p in m["parts"])
    dest = gpu_pack.unpack(out)
    assert (dest / "base.gguf").read_bytes() == base.read_bytes()
    assert (dest / "pylib" / "gguf" / "sub" / "m.py").read_text() == "Y = 2\n"
    found = subprocess.run([sys.executable, "-c", "import sys, importlib.metadata as m; sys.path.insert(0, sys.argv[1]);"
                            " print(m.version('gguf'))", str(dest / "pylib")], capture_output=True, text=True)
    assert found.stdout.strip() == "9.9", found.stderr  # what transformers' GGUF check reads
    tr = np.load(dest / "corpus" / "train.npy")
    assert len(tr) == m["train_tokens"] and np.array_equal(tr, np.load(corpus / "train.npy")[:len(tr)])
    assert np.array_equal(np.load(dest / "corpus" / "val.npy"), np.load(corpus / "val.npy"))
    (out / "unpacked" / ".done").unlink()
    good = (out / "part-2").read_bytes()
    (out / "part-2").write_bytes(b"x" + good[1:])
    with pytest.raises(ValueError, match="part-2 does not match"):
        gpu_pack.unpack(out)
    (out / "part-2").write_bytes(good)
    (out / "part-3").unlink()
    with pytest.raises(FileNotFoundError, match="part-3 is missing"):
        gpu_pack.unpack(out)
