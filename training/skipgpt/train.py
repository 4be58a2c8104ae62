"""`python -m skipgpt train`: stage 1 (router tuning) then stage 2 (LoRA), or a LoRA-only reference run
(`--lora-only dense` / `--lora-only static --static-mask-file X`), writing training/deltas/<name>/.

Stage definitions follow ../shared/notes/skipgpt.md; the loop, checkpoints and resume live in train_loop.py.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from .config import ConfigError, DataConfig, Stage1Config, Stage2Config, TrainConfig, load_static_mask
from .model import SkipLlama
from .runtime import Runtime, setup
from .train_loop import CheckpointError, StepResult, TokenStream, lm_loss, load_checkpoint, run_stage, score


def sparsity_term(gates: torch.Tensor, target_skip: float,
                  runtime: Runtime | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """r = mean execute gate over all tokens, layers and both modules (global, count-weighted);
    returns (|(1 − T) − r|, r). Gates are straight-through, so the term's gradient reaches the routers.
    Data-parallel: r takes the value of the global batch's mean (all-reduced), so |·| is applied to the same r as in
    one process, and the gradient of this rank's rows; DDP's averaging then gives the one-process gradient."""
    r = gates.float().mean()
    if runtime is not None and runtime.distributed:
        r = runtime.mean(r) + (r - r.detach())
    return (r - (1.0 - target_skip)).abs(), r


def stage1_step(model: SkipLlama, cfg: Stage1Config, runtime: Runtime | None = None):
    def step(batch: torch.Tensor, i: int) -> StepResult:
        tau = cfg.tau(i)
        out = model(batch[:, :-1], mode="gumbel", tau=tau)
        ce = lm_loss(out.logits, batch)
        term, r = sparsity_term(out.gates, cfg.target_skip, runtime)
        return StepResult(ce + cfg.alpha * term, float(ce.detach()), 1.0 - float(r.detach()), tau)
    return step


def distill_kl(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean over tokens of KL(teacher ‖ student) over the vocabulary (both [B, S, V] logits)."""
    s, t = student.float().log_softmax(-1).flatten(0, 1), teacher.float().log_softmax(-1).flatten(0, 1)
    return F.kl_div(s, t, log_target=True, reduction="batchmean")


def stage2_step(model: SkipLlama, fwd: dict, distill: float = 0.0, teacher: SkipLlama | None = None):
    """CE on the data, or with `distill` = w > 0: (1 − w)·CE + w·KL(dense base ‖ routed). `teacher` is the unwrapped
    SkipLlama whose peft base runs with its adapters disabled and every sublayer executed: the dense model the
    routed one should imitate (its logits carry more than the one-hot next token, cf. the paper's recovery)."""
    def step(batch: torch.Tensor, i: int) -> StepResult:
        out = model(batch[:, :-1], **fwd)
        ce = lm_loss(out.logits, batch)
        loss = ce
        if distill > 0:
            with torch.no_grad(), teacher.base.disable_adapter():
                t = teacher(batch[:, :-1], mode="dense").logits
            loss = (1.0 - distill) * ce + distill * distill_kl(out.logits, t)
        return StepResult(loss, float(ce.detach()), 1.0 - float(out.gates.float().mean()))
    return step


def cosine_with_warmup(steps: int, warmup_frac: float):
    warm = max(1, int(round(steps * warmup_frac))) if warmup_frac > 0 else 0

    def factor(i: int) -> float:
        if i < warm:
            return (i + 1) / warm
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (i - warm) / max(1, steps - warm))))
    return lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, factor)


def constant():
    return lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1.0)


def add_lora(model: SkipLlama, cfg: Stage2Config) -> None:
    from peft import LoraConfig, get_peft_model

    for p in model.parameters():
        p.requires_grad_(False)
    lcfg = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=list(cfg.target_modules), bias="none")
    model.base = get_peft_model(model.base, lcfg)  # freezes everything but the LoRA matrices


def load_lora(model: SkipLlama, folder: Path) -> None:
    """Continue from another run's adapter (folder/lora): its LoRA matrices become trainable again, in fp32."""
    from peft import PeftModel

    if not (folder / "lora").is_dir():
        raise ConfigError(f"--lora-from {folder}: no lora/ adapter there")
    for p in model.parameters():
        p.requires_grad_(False)
    model.base = PeftModel.from_pretrained(model.base, str(folder / "lora"), is_trainable=True)
    for n, p in model.base.named_parameters():
        if "lora_" in n:
            p.data = p.data.float()  # saved as fp16; the optimizer works in fp32 as for a fresh adapter


def train(cfg: TrainConfig, *, base_model=None, base_info: dict | None = None, resume: bool = False,
          stop_after: int | None = None, progress: bool = True, runtime: Runtime | None = None,
          deadline: float | None = None) -> dict | None:
    """Runs the configured stages; returns the results dict, or None if `stop_after` interrupted it.
    `base_model`/`base_info` let tests pass a tiny model instead of loading `cfg.base`. `runtime` defaults to
    `runtime.setup(cfg.device)` (joins the process group under torchrun); only rank 0 writes files. `deadline`
    (a time.time() value) ends the call like `stop_after` does, after a checkpoint."""
    cfg.validate()
    rt = runtime or setup(cfg.device)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    if base_model is None:
        from .loader import load_base

        base_model, _, info = load_base(cfg.base)
        base_info = info.to_dict()
    # Routers (and LoRA matrices, which peft keeps in fp32) train in fp32; only the frozen base is cast.
    model = SkipLlama(base_model.to(getattr(torch, cfg.dtype))).to(rt.device)
    model.row_shard = rt.shard(cfg.data.batch_size)
    d = cfg.data
    corpus = Path(d.corpus)
    train_stream, val_stream = TokenStream(corpus / "train.npy"), TokenStream(corpus / "val.npy")
    val_batches = val_stream.fixed_batches(d.val_batches, d.batch_size, d.seq_len)
    run_dir = cfg.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    common = dict(batch_size=d.batch_size, seq_len=d.seq_len, seed=cfg.seed, checkpoint_every=cfg.checkpoint_every,
                  resume=resume, progress=progress, runtime=rt, deadline=deadline)
    results: dict = {"name": cfg.name, "kind": cfg.kind, "stages": {}}
    stage_meta: dict = {}

    if cfg.kind == "routed":
        s1 = cfg.stage1
        done = run_dir / "stage1_routers.pt"
        for p in model.parameters():
            p.requires_grad_(False)
        if cfg.routers_from:  # stage 1 taken from another delta folder (same routers, another LoRA recipe)
            stats1 = load_routers_from(model, Path(cfg.routers_from))
        elif resume and done.is_file():  # stage 1 finished in an earlier call
            saved = load_checkpoint(done)
            model.load_router_state_dict(saved["routers"])
            stats1 = saved["stats"]
        else:
            for p in model.routers.parameters():
                p.requires_grad_(True)
            sched = constant() if s1.lr_schedule == "constant" else cosine_with_warmup(s1.steps, 0.05)
            step_fn = stage1_step(rt.wrap(model), s1, rt)  # DDP over the routers only (the rest is frozen)
            st, finished = run_stage("stage1", model, train_stream, step_fn, steps=s1.steps,
                                     make_sched=sched, lr=s1.lr, weight_decay=s1.weight_decay,
                                     grad_clip=s1.grad_clip, ckpt_path=run_dir / "stage1.ckpt",
                                     stop_after=stop_after, **common)
            if not finished:
                return None
            stats1 = {"steps": st.steps, "tokens_seen": st.tokens_seen, "wall_s": round(st.wall_s, 1),
                      "train_loss_last10": st.tail_mean("loss"), "train_ce_last10": st.tail_mean("ce"),
                      "train_skip_last10": st.tail_mean("skip"), "history": st.history,
                      "val": score(model, val_batches, runtime=rt, mode="hard", threshold=cfg.stage2.threshold)}
            if rt.is_main:
                torch.save({"routers": {k: v.cpu() for k, v in model.router_state_dict().items()}, "stats": stats1},
                           done)
            stop_after = None if stop_after is None else max(0, stop_after - st.steps)
        for p in model.routers.parameters():
            p.requires_grad_(False)
        results["stages"]["stage1"] = {k: v for k, v in stats1.items() if k != "history"}
        stage_meta["stage1"] = stats1
        fwd = {"mode": "hard", "threshold": cfg.stage2.threshold}
    elif cfg.kind == "static":
        mask = load_static_mask(cfg.static_mask_file, model.num_layers)
        fwd = {"mode": "static", "static_mask": mask.to(rt.device)}
        results["static_mask"] = mask.tolist()
    else:
        fwd = {"mode": "dense"}

    if cfg.kind == "routed":
        results["stages"]["stage1"]["val_dense"] = score(model, val_batches, runtime=rt, mode="dense")
    s2 = cfg.stage2
    if not cfg.skip_stage2:
        # Re-seed so LoRA init and dropout do not depend on whether stage 1 ran in this call (resume).
        torch.manual_seed(cfg.seed + 1)
        if cfg.lora_from:
            load_lora(model, Path(cfg.lora_from))
        else:
            add_lora(model, s2)
        rt.shard_lora_dropout(model, d.batch_size)  # data-parallel: masks drawn for the global batch
        step2 = stage2_step(rt.wrap(model), fwd, s2.distill, model)
        st, finished = run_stage("stage2", model, train_stream, step2, steps=s2.steps,
                                 make_sched=cosine_with_warmup(s2.steps, s2.warmup_frac), lr=s2.lr,
                                 weight_decay=s2.weight_decay, grad_clip=s2.grad_clip,
                                 ckpt_path=run_dir / "stage2.ckpt", stop_after=stop_after, **common)
        if not finished:
            return None
        stats2 = {"steps": st.steps, "tokens_seen": st.tokens_seen, "wall_s": round(st.wall_s, 1),
                  "train_loss_last10": st.tail_mean("loss"), "train_skip_last10": st.tail_mean("skip"),
                  "val": score(model, val_batches, runtime=rt, **fwd)}
        results["stages"]["stage2"] = stats2
        stage_meta["stage2"] = {**stats2, "history": st.history}
    if rt.is_main:
        write_deltas(cfg, model, base_info or {}, results, stage_meta, rt.describe())
    return results


def load_routers_from(model: SkipLlama, folder: Path) -> dict:
    """Loads folder/routers.safetensors; returns that run's stage-1 record (steps, tokens, wall time, val)."""
    from safetensors.torch import load_file

    f = folder / "routers.safetensors"
    if not f.is_file():
        raise ConfigError(f"--routers-from {folder}: no routers.safetensors there")
    model.load_router_state_dict(load_file(str(f)))
    stages = json.loads((folder / "config.json").read_text()).get("stages", {}) if (folder / "config.json").is_file() \
        else {}
    res = json.loads((folder / "results.json").read_text()) if (folder / "results.json").is_file() else {}
    return {**stages.get("stage1", {}), **res.get("stages", {}).get("stage1", {}), "routers_from": str(folder)}


def write_deltas(cfg: TrainConfig, model: SkipLlama, base_info: dict, results: dict, stage_meta: dict,
                 runtime_info: dict | None = None) -> Path:
    """training/deltas/<name>/: routers.safetensors (routed), lora/ (peft adapter), config.json, results.json."""
    from safetensors.torch import save_file

    out = cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    if cfg.kind == "routed":
        save_file({k: v.cpu() for k, v in model.router_state_dict().items()}, str(out / "routers.safetensors"))
    if not cfg.skip_stage2:
        if cfg.stage2.save_dtype == "float16":
            for n, p in model.base.named_parameters():
                if "lora_" in n:
                    p.data = p.data.half()
        model.base.save_pretrained(str(out / "lora"))
    config = {"format": "skipgpt-deltas", "version": 1, "training": cfg.to_dict(), "base": base_info,
              "seed": cfg.seed, "threads": cfg.threads,
              "runtime": runtime_info or {"device": "cpu", "world_size": 1},
              "stages": {k: {x: v.get(x) for x in ("steps", "tokens_seen", "wall_s")} for k, v in stage_meta.items()},
              "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (out / "config.json").write_text(json.dumps(config, indent=1))
    (out / "results.json").write_text(json.dumps(results, indent=1))
    hist = {k: v.get("history", []) for k, v in stage_meta.items()}
    (cfg.run_dir / "history.json").write_text(json.dumps(hist))  # per-step curves stay in runs/ (not committed)
    return out


# ---------------------------------------------------------------- CLI

def register(sub) -> None:
    p = sub.add_parser("train", help="train routers (stage 1) and LoRA (stage 2), or a LoRA-only reference")
    p.add_argument("--name", required=True, help="delta folder name, e.g. smollm2-135m-skip25")
    p.add_argument("--base", default="default", help="'default', a .gguf file or a Llama folder")
    p.add_argument("--corpus", default=DataConfig.corpus)
    p.add_argument("--target-skip", type=float, default=Stage1Config.target_skip)
    p.add_argument("--alpha", type=float, default=Stage1Config.alpha)
    p.add_argument("--stage1-steps", type=int, default=Stage1Config.steps)
    p.add_argument("--stage1-lr", type=float, default=Stage1Config.lr)
    p.add_argument("--stage1-lr-schedule", choices=["constant", "cosine"], default=Stage1Config.lr_schedule)
    p.add_argument("--stage2-steps", type=int, default=Stage2Config.steps)
    p.add_argument("--batch-size", type=int, default=DataConfig.batch_size)
    p.add_argument("--seq-len", type=int, default=DataConfig.seq_len)
    p.add_argument("--val-batches", type=int, default=DataConfig.val_batches)
    p.add_argument("--lora-only", choices=["dense", "static"], help="reference run: LoRA only, no routers")
    p.add_argument("--static-mask-file", help="with --lora-only static: static_mask.json from the ShortGPT code")
    p.add_argument("--routers-only", action="store_true", help="stop after stage 1")
    p.add_argument("--routers-from", help="delta folder whose routers.safetensors replaces stage 1")
    p.add_argument("--lora-from", help="stage 2 starts from this delta folder's lora/ adapter (more steps on a run)")
    p.add_argument("--distill", type=float, default=Stage2Config.distill,
                   help="stage 2: weight w of KL(dense base || routed); loss = (1-w)*CE + w*KL (0 = CE only)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                   help="compute dtype of the frozen base (bfloat16: faster on CPUs with AVX512-BF16/AMX)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="auto = cuda if available; CUDA runs under bf16 autocast. More processes: launch with "
                        "torchrun --nproc_per_node N -m skipgpt train ... (the global --batch-size is split)")
    p.add_argument("--checkpoint-every", type=int, default=25)
    p.add_argument("--deltas-dir", default="deltas")
    p.add_argument("--runs-dir", default="../runs")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoints in runs/<name>/")
    p.add_argument("--stop-after", type=int, help="end this call after N optimizer steps (resume later)")
    p.set_defaults(func=run)


def run(args) -> int:
    cfg = TrainConfig(
        name=args.name, kind="routed" if not args.lora_only else args.lora_only, base=args.base,
        static_mask_file=args.static_mask_file, skip_stage2=args.routers_only, routers_from=args.routers_from,
        lora_from=args.lora_from,
        seed=args.seed,
        threads=args.threads, dtype=args.dtype, device=args.device,
        checkpoint_every=args.checkpoint_every, deltas_dir=args.deltas_dir, runs_dir=args.runs_dir,
        data=DataConfig(corpus=args.corpus, seq_len=args.seq_len, batch_size=args.batch_size,
                        val_batches=args.val_batches),
        stage1=Stage1Config(steps=args.stage1_steps, target_skip=args.target_skip, alpha=args.alpha,
                            lr=args.stage1_lr, lr_schedule=args.stage1_lr_schedule),
        stage2=Stage2Config(steps=args.stage2_steps, distill=args.distill))
    try:
        cfg.validate()
    except ConfigError as e:
        print(f"error: {e}")
        return 2
    if cfg.run_dir.exists() and any(cfg.run_dir.glob("*.ckpt")) and not args.resume:
        print(f"error: {cfg.run_dir} already holds checkpoints; pass --resume to continue or delete it")
        return 2
    from .runtime import DeviceError, teardown

    try:
        rt = setup(cfg.device)
    except DeviceError as e:
        print(f"error: {e}")
        return 2
    try:
        res = train(cfg, resume=args.resume, stop_after=args.stop_after, runtime=rt)
    except CheckpointError as e:
        print(f"error: {e}")
        return 2
    finally:
        teardown()
    if not rt.is_main:  # rank 0 reports (and wrote the files)
        return 0
    if res is None:
        print(f"stopped after {args.stop_after} steps; continue with --resume")
        return 0
    print(json.dumps({k: v for k, v in res.items() if k != "static_mask"}, indent=1)[:3000])
    print(f"wrote {cfg.out_dir}")
    return 0
