"""Training configuration: dataclasses with validation, one per stage, plus the run as a whole.

Defaults follow ../shared/notes/skipgpt.md (stage 1: τ 5→1, α 8, AdamW 2e-3, clip 1.0; stage 2: LoRA r16/α32/
dropout 0.1 on q/v/gate, LR 2e-4 cosine with 10% warm-up). Step counts are scaled down for a 2-core CPU.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

RunKind = Literal["routed", "dense", "static"]


class ConfigError(ValueError):
    """A configuration value is out of range; the message names the field."""


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(msg)


@dataclass
class DataConfig:
    corpus: str = "../data/corpus"  # folder written by `python -m skipgpt corpus`
    seq_len: int = 256
    batch_size: int = 4
    val_batches: int = 8  # batches of the val split scored at the end of each stage

    def validate(self) -> None:
        _check(self.seq_len >= 2, f"data.seq_len must be >= 2, got {self.seq_len}")
        _check(self.batch_size >= 1, f"data.batch_size must be >= 1, got {self.batch_size}")
        _check(self.val_batches >= 0, f"data.val_batches must be >= 0, got {self.val_batches}")


@dataclass
class Stage1Config:
    """Router tuning: base frozen, straight-through Gumbel gates, CE + alpha·|(1−T) − r|."""
    steps: int = 150
    target_skip: float = 0.25  # T: fraction of sublayer executions to skip
    alpha: float = 8.0  # weight of the sparsity term (paper 8, reference code 20)
    lr: float = 2e-3
    # "constant" (the notes' choice) or "cosine" decay to 0 after a 5% warm-up: at a constant 2e-3 both 200-step runs
    # lost their progress around step 80 (train CE 3.7 -> 4.4, docs/TRAINING.md).
    lr_schedule: str = "constant"
    weight_decay: float = 0.0
    tau_start: float = 5.0
    tau_end: float = 1.0
    grad_clip: float = 1.0

    def validate(self) -> None:
        _check(self.steps >= 1, f"stage1.steps must be >= 1, got {self.steps}")
        _check(0.0 <= self.target_skip < 1.0, f"stage1.target_skip must be in [0, 1), got {self.target_skip}")
        _check(self.alpha >= 0, f"stage1.alpha must be >= 0, got {self.alpha}")
        _check(self.lr > 0, f"stage1.lr must be > 0, got {self.lr}")
        _check(self.lr_schedule in ("constant", "cosine"),
               f"stage1.lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        _check(self.tau_start > 0 and self.tau_end > 0, "stage1.tau_start and tau_end must be > 0")
        _check(self.grad_clip > 0, f"stage1.grad_clip must be > 0, got {self.grad_clip}")

    def tau(self, step: int) -> float:
        """Linear anneal over the stage's optimizer steps: step 0 → tau_start, last step → tau_end."""
        if self.steps <= 1:
            return self.tau_end
        frac = min(max(step / (self.steps - 1), 0.0), 1.0)
        return self.tau_start + (self.tau_end - self.tau_start) * frac


@dataclass
class Stage2Config:
    """LoRA with peft on the base, routers frozen, hard decisions (or dense / a static mask for references)."""
    steps: int = 60
    lr: float = 2e-4
    warmup_frac: float = 0.1
    weight_decay: float = 0.0
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "v_proj", "gate_proj"])
    threshold: float = 0.5
    grad_clip: float = 1.0
    save_dtype: str = "float16"  # LoRA weights on disk: fp16 halves the folder (~4 MB for SmolLM2-135M)
    # Weight w of distillation from the dense base (adapters off, every sublayer run): loss = (1 − w)·CE +
    # w·KL(dense ‖ routed) per token. 0 = SkipGPT's recipe (CE only). The teacher costs one no-grad forward per step.
    distill: float = 0.0

    def validate(self) -> None:
        _check(self.steps >= 1, f"stage2.steps must be >= 1, got {self.steps}")
        _check(self.lr > 0, f"stage2.lr must be > 0, got {self.lr}")
        _check(0.0 <= self.warmup_frac < 1.0, f"stage2.warmup_frac must be in [0, 1), got {self.warmup_frac}")
        _check(self.lora_r >= 1, f"stage2.lora_r must be >= 1, got {self.lora_r}")
        _check(0.0 <= self.lora_dropout < 1.0, f"stage2.lora_dropout must be in [0, 1), got {self.lora_dropout}")
        _check(bool(self.target_modules), "stage2.target_modules must name at least one module")
        _check(0.0 <= self.threshold <= 1.0, f"stage2.threshold must be in [0, 1], got {self.threshold}")
        _check(self.save_dtype in ("float16", "float32"), "stage2.save_dtype must be float16 or float32")
        _check(0.0 <= self.distill <= 1.0, f"stage2.distill must be in [0, 1], got {self.distill}")


@dataclass
class TrainConfig:
    name: str
    kind: RunKind = "routed"  # routed: stage 1 then 2; dense / static: LoRA-only references (stage 2 only)
    base: str = "default"
    static_mask_file: str | None = None  # kind=static: {"executed": [[attn, mlp], ...]} per layer
    skip_stage2: bool = False  # routed: routers only
    # routed: take stage 1's routers from this delta folder (its routers.safetensors) instead of training them, so
    # LoRA recipes can be compared on identical routers.
    routers_from: str | None = None
    lora_from: str | None = None  # stage 2 continues from this delta folder's lora/ adapter instead of a fresh one
    seed: int = 0
    threads: int = 2
    dtype: str = "float32"  # compute dtype of the frozen base; bfloat16 is ~2x faster on AVX512-BF16/AMX CPUs
    device: str = "auto"  # auto | cpu | cuda (runtime.py); on CUDA the forward runs under bf16 autocast
    checkpoint_every: int = 25
    deltas_dir: str = "deltas"
    runs_dir: str = "../runs"
    data: DataConfig = field(default_factory=DataConfig)
    stage1: Stage1Config = field(default_factory=Stage1Config)
    stage2: Stage2Config = field(default_factory=Stage2Config)

    def validate(self) -> "TrainConfig":
        _check(bool(self.name) and "/" not in self.name and not self.name.startswith("."),
               f"name must be a plain folder name, got {self.name!r}")
        _check(self.kind in ("routed", "dense", "static"), f"kind must be routed, dense or static, got {self.kind!r}")
        _check(self.routers_from is None or self.kind == "routed", "routers_from needs kind=routed")
        _check(self.kind != "static" or bool(self.static_mask_file),
               "kind=static needs --static-mask-file (a static_mask.json from the ShortGPT code)")
        _check(self.dtype in ("float32", "bfloat16"), f"dtype must be float32 or bfloat16, got {self.dtype!r}")
        _check(self.device in ("auto", "cpu", "cuda"), f"device must be auto, cpu or cuda, got {self.device!r}")
        _check(self.threads >= 1, f"threads must be >= 1, got {self.threads}")
        _check(self.checkpoint_every >= 1, f"checkpoint_every must be >= 1, got {self.checkpoint_every}")
        self.data.validate()
        self.stage1.validate()
        self.stage2.validate()
        return self

    @property
    def out_dir(self) -> Path:
        return Path(self.deltas_dir) / self.name

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.name

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        data, s1, s2 = DataConfig(**d.pop("data", {})), Stage1Config(**d.pop("stage1", {})), \
            Stage2Config(**d.pop("stage2", {}))
        return cls(**d, data=data, stage1=s1, stage2=s2).validate()


def load_static_mask(path: str | Path, num_layers: int):
    """Read {"executed": [[attn, mlp], ...]} (true = runs) into a [L, 2] bool tensor, checking the layer count."""
    import torch

    try:
        doc = json.loads(Path(path).read_text())
    except OSError as e:
        raise ConfigError(f"static mask file {path} cannot be read ({e})") from e
    except ValueError as e:
        raise ConfigError(f"static mask file {path} is not valid JSON ({e})") from e
    ex = doc.get("executed") if isinstance(doc, dict) else None
    ok = isinstance(ex, list) and all(isinstance(r, list) and len(r) == 2 and all(isinstance(v, bool) for v in r)
                                      for r in ex)
    _check(ok, f"{path}: expected {{\"executed\": [[true, false], ...]}} with one [attn, mlp] pair per layer")
    _check(len(ex) == num_layers, f"{path}: mask has {len(ex)} layers, the model has {num_layers}")
    return torch.tensor(ex, dtype=torch.bool)
