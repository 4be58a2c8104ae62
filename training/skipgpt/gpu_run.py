"""One-command training on a lent GPU machine (`scripts/gpu_train.py`): the default recipe at `--scale`× this
project's CPU budget, under a time limit so the call ends inside the lender's 10-minute window, tokens/s printed
per stage. `pack` (run here; gpu_pack.py) turns the base GGUF, a corpus slice and the pure-Python `gguf` package
into parts that each fit one call's 64 MiB of carried files; `run --pack DIR` (there) checks and reassembles them.
`--smoke` runs the same path in seconds on a tiny random model (CPU), so the tests keep it working.
Commands: docs/TRAINING.md.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

from .gpu_pack import MIB, pack, unpack

# Tokens per stage of the default model's CPU run (long-lora6, docs/TRAINING.md): 100 × 4 × 128 router tokens,
# 600 × 4 × 128 LoRA tokens. `--scale` multiplies both.
CPU_BUDGET = {"stage1": 51_200, "stage2": 307_200}
# SmolLM2-135M's shape, for speed-only runs with random weights (no GGUF to carry).
SMOLLM2_135M = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                    num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192, rms_norm_eps=1e-5,
                    rope_theta=100000.0, tie_word_embeddings=True)
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_train.py"


# ---------------------------------------------------------------- the run

def random_corpus(folder: Path, vocab: int, tokens: int, seed: int = 0) -> Path:
    """Uniform random tokens (speed-only runs and the smoke test); written atomically, once."""
    import numpy as np

    if (folder / "train.npy").is_file():
        return folder
    tmp = folder.with_name(folder.name + f".tmp-{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", tokens), ("val", max(tokens // 8, 4096))):
        np.save(tmp / f"{split}.npy", rng.integers(0, vocab, n).astype(np.uint16))
    try:
        tmp.replace(folder)
    except OSError:  # another process finished first (same content)
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def build_config(a):
    from .config import DataConfig, Stage1Config, Stage2Config, TrainConfig

    if a.smoke:
        steps = {"stage1": 4, "stage2": 3}
        data = DataConfig(corpus=a.corpus, seq_len=16, batch_size=4, val_batches=1)
    else:
        tok = a.batch * a.seq
        steps = {k: max(1, math.ceil(v * a.scale / tok)) for k, v in CPU_BUDGET.items()}
        data = DataConfig(corpus=a.corpus, seq_len=a.seq, batch_size=a.batch, val_batches=a.val_batches)
    return TrainConfig(
        name=a.name, base=a.base, seed=a.seed, threads=a.threads, device=a.device, deltas_dir=a.deltas_dir,
        runs_dir=a.runs_dir, checkpoint_every=2 if a.smoke else a.checkpoint_every, data=data,
        # Cosine stage-1 LR: the recipe docs/TRAINING.md recommends for new runs (constant 2e-3 collapsed at ~80 steps).
        stage1=Stage1Config(steps=steps["stage1"], target_skip=a.target_skip, lr_schedule="cosine"),
        # The smoke run keeps LoRA in fp32 on disk so the tests compare exact values.
        stage2=Stage2Config(steps=steps["stage2"], save_dtype="float32" if a.smoke else "float16"))


def prepare(a) -> None:
    """Fill in base/corpus paths (unpacking a pack, or random tokens); idempotent, so every rank may run it."""
    runs = Path(a.runs_dir)
    if a.pack:
        dest = unpack(Path(a.pack))
        sys.path.insert(0, str(dest / "pylib"))  # the carried `gguf` package (the GPU machine has none)
        os.environ["PYTHONPATH"] = os.pathsep.join([str(dest / "pylib"), os.environ.get("PYTHONPATH", "")])
        a.base, a.corpus = str(dest / "base.gguf"), str(dest / "corpus")
    if a.smoke or a.random_base:
        a.base = "tiny-random" if a.smoke else "smollm2-135m-random"
        if a.corpus is None:
            vocab = 256 if a.smoke else SMOLLM2_135M["vocab_size"]
            a.corpus = str(random_corpus(runs / f"random-corpus-{vocab}", vocab, 5000 if a.smoke else 4_000_000))
    if a.corpus is None:
        a.corpus = "../data/corpus"


def load_model(a):
    import torch

    if a.smoke:
        from .model import tiny_llama

        return tiny_llama(), {"name": a.base}
    if a.random_base:
        from transformers import LlamaConfig, LlamaForCausalLM

        torch.manual_seed(a.seed)
        return LlamaForCausalLM(LlamaConfig(**SMOLLM2_135M)).eval(), {"name": a.base}
    from .loader import load_base

    model, _, info = load_base(a.base)
    return model, info.to_dict()


def stage_speeds(cfg, res: dict | None) -> dict:
    """{stage: {steps, tokens_seen, wall_s, tokens_per_s}} from the results, or the checkpoints if stopped early."""
    from .train_loop import load_checkpoint

    out = {}
    for stage in ("stage1", "stage2"):
        st = (res or {}).get("stages", {}).get(stage)
        if st is None:
            ck = cfg.run_dir / f"{stage}.ckpt"
            if not ck.is_file():
                continue
            st = load_checkpoint(ck)["stats"]
        wall = max(float(st["wall_s"]), 1e-6)
        out[stage] = {"steps": st["steps"], "tokens_seen": st["tokens_seen"], "wall_s": round(wall, 2),
                      "tokens_per_s": round(st["tokens_seen"] / wall, 1)}
    return out


def run(a) -> int:
    t_start = time.time()
    prepare(a)
    if a.procs > 1 and "LOCAL_RANK" not in os.environ:  # relaunch this script as N ranks (torchrun's own code)
        from torch.distributed.run import main as torchrun

        torchrun(["--standalone", f"--nproc_per_node={a.procs}", str(SCRIPT), *sys.argv[1:]])
        return 0
    import torch

    from .runtime import setup, teardown
    from .train import train  # imports transformers: only in the processes that train
    cfg = build_config(a)
    if a.fresh and int(os.environ.get("RANK", "0")) == 0:
        shutil.rmtree(cfg.run_dir, ignore_errors=True)
    rt = setup(cfg.device)
    if rt.is_main:
        print(f"device {rt.describe()}, torch {torch.__version__}; steps stage1 {cfg.stage1.steps}, stage2 "
              f"{cfg.stage2.steps} at {cfg.data.batch_size} x {cfg.data.seq_len} tokens", flush=True)
    try:
        base, info = load_model(a)
        t_train = time.time()
        # A progress bar only on a terminal: the lender's call returns the output's tail, which \r-redraws would fill.
        res = train(cfg, base_model=base, base_info=info, resume=True, progress=sys.stderr.isatty(), runtime=rt,
                    deadline=t_train + a.time_limit * 60)
    finally:
        teardown()
    if not rt.is_main:
        return 0
    speeds = stage_speeds(cfg, res)
    summary = {"finished": res is not None, "runtime": rt.describe(), "torch": torch.__version__,
               "load_s": round(t_train - t_start, 1), "total_s": round(time.time() - t_start, 1), "stages": speeds,
               "val": {k: v.get("val", {}).get("ce") for k, v in (res or {}).get("stages", {}).items()}}
    for stage, s in speeds.items():
        print(f"{stage}: {s['steps']} steps, {s['tokens_seen']:,} tokens in {s['wall_s']} s = "
              f"{s['tokens_per_s']:,.0f} tokens/s")
    print(json.dumps(summary))
    if res is None:
        print("stopped at the time limit; run the same command again to continue (checkpoints in "
              f"{cfg.run_dir})")
    if a.out:
        dest = Path(a.out)
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "summary.json").write_text(json.dumps(summary, indent=1))
        if res is not None:
            shutil.copytree(cfg.out_dir, dest / cfg.name, dirs_exist_ok=True)
            shutil.copy2(cfg.run_dir / "history.json", dest / cfg.name / "history.json")  # per-step curves
    return 0


# ---------------------------------------------------------------- CLI

def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="scripts/gpu_train.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd")
    r = sub.add_parser("run", help="train (the default command)")
    r.add_argument("--smoke", action="store_true", help="tiny random model, random tokens, a few steps (tests)")
    r.add_argument("--random-base", action="store_true", help="SmolLM2-135M-shaped random weights: speed only")
    r.add_argument("--pack", help="folder written by `pack` (all parts carried): base, corpus and gguf from it")
    r.add_argument("--base", default="default", help="as `python -m skipgpt train --base`")
    r.add_argument("--corpus", help="folder with train.npy / val.npy (default ../data/corpus, or random tokens)")
    r.add_argument("--name", default="smollm2-135m-skip25-gpu")
    r.add_argument("--target-skip", type=float, default=0.25)
    r.add_argument("--scale", type=float, default=50.0, help="x the CPU token budget per stage (%s)" % CPU_BUDGET)
    r.add_argument("--batch", type=int, default=64, help="global batch (rows), split over --procs processes")
    r.add_argument("--seq", type=int, default=256)
    r.add_argument("--val-batches", type=int, default=4)
    r.add_argument("--time-limit", type=float, default=8.0,
                   help="minutes of training in this call (both stages); then checkpoint and stop")
    r.add_argument("--procs", type=int, default=1, help="processes (one per GPU), launched with torchrun")
    r.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--checkpoint-every", type=int, default=50)
    r.add_argument("--runs-dir", default="../runs")
    r.add_argument("--deltas-dir", default="deltas")
    r.add_argument("--fresh", action="store_true", help="delete runs/<name>/ first (default: continue it)")
    r.add_argument("--out", help="copy deltas/<name>/ and summary.json here (e.g. $OUT)")
    p = sub.add_parser("pack", help="split base + corpus slice + gguf package into parts for carrying")
    p.add_argument("--base", default="default")
    p.add_argument("--corpus", default="../data/corpus")
    p.add_argument("--out", default="../data/gpu_pack")
    p.add_argument("--parts", type=int, default=2)
    p.add_argument("--part-mib", type=float, default=60.0)
    p.add_argument("--train-tokens", type=int, help="default: as many as fit in --parts parts")
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("run", "pack", "-h", "--help"):
        argv = ["run", *argv]
    a = build_parser().parse_args(argv)
    if a.cmd == "run":
        return run(a)
    import importlib.metadata

    from .loader import resolve_source

    _, base = resolve_source(a.base)
    # The `gguf` package and its .dist-info (the GPU machine has neither; transformers checks the installed version).
    dist = importlib.metadata.distribution("gguf")
    pkg = Path(dist.locate_file("gguf"))
    pylib = [pkg, *pkg.parent.glob(f"gguf-{dist.version}.dist-info")]
    m = pack(base, Path(a.corpus), Path(a.out), parts=a.parts, part_mib=a.part_mib, train_tokens=a.train_tokens,
             pylib=pylib)
    out = Path(a.out).resolve()
    try:
        rel = out.relative_to(Path(__file__).resolve().parents[2])  # carry paths are relative to the repo root
    except ValueError:
        rel = out
    print(f"wrote {len(m['parts'])} parts ({', '.join(str(p['bytes'] // MIB) + ' MiB' for p in m['parts'])}), "
          f"{m['train_tokens']:,} train tokens, to {out}")
    for i, part in enumerate(m["parts"], 1):
        extra = [str(rel / "manifest.json")] if i == len(m["parts"]) else []
        cmd = ("cd training && python scripts/gpu_train.py --pack ../" + str(rel) + " --out $OUT"
               if i == len(m["parts"]) else "ls -l " + str(rel))
        print(f"device call {i}: carry {[str(rel / part['name']), *extra]}  command: {cmd}")
    return 0
