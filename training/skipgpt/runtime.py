"""Where a training run executes: the device (`--device auto|cpu|cuda`), bf16 autocast on CUDA, and data-parallel
ranks under torchrun (torch.distributed + DistributedDataParallel; gloo on CPU, nccl on CUDA).

Data parallelism splits every global batch by rows across the ranks. So that N processes train what one process
would with the same global batch, the randomness that depends on the batch (stage 1's Gumbel noise, stage 2's LoRA
dropout) is drawn for the *whole* global batch on every rank, which keeps the ranks' RNG streams identical to each
other and to a single process's, and each rank keeps its own rows (`RowShard`). train.py all-reduces the sparsity
term's r; DDP averages the gradients. One process (the default) takes none of these paths, so the CPU path stays
exactly what it was.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

DEVICES = ("auto", "cpu", "cuda")


class DeviceError(ValueError):
    """The requested device cannot be used here; the message says what to do."""


def resolve_device(name: str) -> torch.device:
    """auto = cuda if available else cpu; cuda without a usable GPU is an error, not a silent fallback."""
    if name not in DEVICES:
        raise DeviceError(f"device must be one of {', '.join(DEVICES)}, got {name!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda: torch sees no CUDA GPU here (CPU build of torch, or no driver); "
                          "use --device cpu or auto")
    return torch.device(name)


@dataclass(frozen=True)
class RowShard:
    """Rows [start, stop) of a global batch of `total` rows that this rank computes."""
    start: int
    stop: int
    total: int

    def take(self, full: torch.Tensor) -> torch.Tensor:
        return full[self.start:self.stop]

    def global_shape(self, local: torch.Tensor) -> tuple[int, ...]:
        return (self.total, *local.shape[1:])


def gumbel_hard(logits: torch.Tensor, tau: float, shard: RowShard | None = None) -> torch.Tensor:
    """Straight-through hard Gumbel-softmax over the last dim. Without a shard this is F.gumbel_softmax; with one,
    the noise is drawn for the global batch and sliced, then the same arithmetic runs (so the gates of these rows
    are bit-identical to what one process computes for the whole batch)."""
    if shard is None:
        return F.gumbel_softmax(logits, tau=tau, hard=True)
    noise = torch.empty(shard.global_shape(logits), dtype=logits.dtype, device=logits.device).exponential_()
    gumbels = -shard.take(noise).log()
    y_soft = ((logits + gumbels) / tau).softmax(-1)
    index = y_soft.max(-1, keepdim=True)[1]
    y_hard = torch.zeros_like(logits).scatter_(-1, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


class ShardedDropout(nn.Dropout):
    """nn.Dropout whose mask is drawn for the global batch and sliced to this rank's rows (CPU: the same values and
    arithmetic as F.dropout on the whole batch). Subclasses nn.Dropout so peft's isinstance checks still hold."""

    def __init__(self, p: float, shard: RowShard):
        super().__init__(p)
        self.shard = shard

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        noise = torch.empty(self.shard.global_shape(x), dtype=x.dtype, device=x.device)
        noise.bernoulli_(1 - self.p).div_(1 - self.p)
        return x * self.shard.take(noise)


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def describe(self) -> dict:
        d = {"device": self.device.type, "world_size": self.world,
             "autocast": "bfloat16" if self.device.type == "cuda" else None}
        if self.device.type == "cuda":
            d["gpu"] = torch.cuda.get_device_name(self.device)
        return d

    def autocast(self):
        """bf16 autocast on CUDA (matmuls in bf16, reductions and the routers in fp32); nothing on CPU."""
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def shard(self, rows: int) -> RowShard | None:
        if not self.distributed:
            return None
        if rows % self.world:
            raise DeviceError(f"the global batch ({rows} rows) must divide evenly over {self.world} processes")
        b = rows // self.world
        return RowShard(self.rank * b, (self.rank + 1) * b, rows)

    def local_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a global batch, on the device."""
        shard = self.shard(batch.shape[0])
        local = shard.take(batch) if shard else batch
        return local.to(self.device, non_blocking=True)

    def seed_step(self, seed: int, stage_hash: int, step: int) -> None:
        """CUDA draws its Gumbel noise and dropout from the GPU generator, which checkpoints do not hold: re-seed it
        from (seed, stage, step) at every step so a resumed run continues exactly. Nothing happens on CPU."""
        if self.device.type == "cuda":
            torch.cuda.manual_seed(int(np.random.SeedSequence([seed, stage_hash, step]).generate_state(1)[0]))

    def wrap(self, model: nn.Module) -> nn.Module:
        """DDP over the parameters that train now (frozen ones are ignored by DDP). Every trainable parameter is in
        the graph at every step (skipped sublayers are computed and multiplied by 0), so no unused-parameter search."""
        if not self.distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(model, device_ids=ids, find_unused_parameters=False)

    def mean(self, t: torch.Tensor) -> torch.Tensor:
        """Mean of a tensor over ranks (no gradient)."""
        if not self.distributed:
            return t
        t = t.detach().clone()
        dist.all_reduce(t)
        return t / self.world

    def any(self, flag: bool) -> bool:
        """True if the flag is true on any rank (so every rank takes the same branch)."""
        if not self.distributed:
            return flag
        t = torch.tensor([int(flag)], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def shard_lora_dropout(self, model: nn.Module, rows: int) -> int:
        """Replace peft's LoRA dropout modules by ShardedDropout; returns how many were replaced."""
        shard = self.shard(rows)
        if shard is None:
            return 0
        n = 0
        for mod in model.modules():
            drops = getattr(mod, "lora_dropout", None)
            if isinstance(drops, nn.ModuleDict):
                for k, d in drops.items():
                    if isinstance(d, nn.Dropout):
                        drops[k] = ShardedDropout(d.p, shard)
                        n += 1
        return n


def setup(device: str = "auto") -> Runtime:
    """One process: Runtime(device). Under torchrun (WORLD_SIZE > 1): joins the process group (nccl on CUDA, one
    GPU per local rank; gloo on CPU) and returns this rank's Runtime."""
    dev = resolve_device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Runtime(dev)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if dev.type == "cuda":
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Runtime(dev, rank, world)


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
