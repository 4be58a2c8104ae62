"""Applies a training delta folder (training/deltas/<name>/) to a base model: checks it was made for this base,
loads routers.safetensors into SkipLlama and merges the peft LoRA adapter into the weights.
"""
from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from pathlib import Path

import torch

from ..model import SkipLlama
from .manifest import Delta


class BuildError(Exception):
    """The build cannot proceed; the message says what is wrong and what to do."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """safetensors.torch.load_file, but a file that is not safetensors (e.g. a torch.save pickle renamed
    routers.safetensors) gets an error naming the file instead of a bare "header too large"."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except SafetensorError as e:
        with open(path, "rb") as f:
            head = f.read(4)
        # torch.save writes a zip (PK..) around a pickle; older torch and plain pickle start with protocol 0x80.
        what = " (it looks like a PyTorch/pickle file)" if head[:2] == b"PK" or head[:1] == b"\x80" else ""
        raise BuildError(f"{path} is not a safetensors file{what}: {e}. Deltas must be written by "
                         "`python -m skipgpt train`; pickles are never loaded because they can run code") from e


def read_delta_config(folder: Path) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise BuildError(f"deltas folder {folder} not found; pass a folder made by `python -m skipgpt train` "
                         "(training/deltas/<name>/)")
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise BuildError(f"{folder} has no config.json; it is not a SkipGPT deltas folder")
    try:
        cfg = json.loads(cfg_path.read_text())
    except ValueError as e:
        raise BuildError(f"{cfg_path} is not valid JSON ({e})") from e
    if cfg.get("format") != "skipgpt-deltas" or cfg.get("version") != 1:
        raise BuildError(f"{cfg_path}: format {cfg.get('format')!r} version {cfg.get('version')!r} is not "
                         "'skipgpt-deltas' version 1; retrain with this toolkit")
    if not (folder / "routers.safetensors").is_file() and not (folder / "lora").is_dir():
        raise BuildError(f"{folder} has neither routers.safetensors nor lora/: nothing to apply")
    if (folder / "routers.safetensors").is_file():
        load_safetensors(folder / "routers.safetensors")  # a few hundred KB: fail fast, before the base load
    return cfg


def check_base_match(cfg: dict, base_info: dict, folder: Path) -> None:
    """Refuse deltas trained on another base: compare the recorded sha256 of each base file and the dims."""
    want = cfg.get("base") or {}
    want_sha, have_sha = want.get("sha256") or {}, base_info.get("sha256") or {}
    if want_sha and have_sha and want_sha != have_sha:
        raise BuildError(f"deltas {folder} were trained on base {want.get('name')!r} (sha256 "
                         f"{sorted(want_sha.values())[0][:12]}…) but the base given is {base_info.get('name')!r} "
                         f"(sha256 {sorted(have_sha.values())[0][:12]}…); build with the matching --base")
    want_dims, have_dims = want.get("dims") or {}, base_info.get("dims") or {}
    diff = {k: (want_dims[k], have_dims[k]) for k in want_dims if k in have_dims and want_dims[k] != have_dims[k]}
    if diff:
        raise BuildError(f"deltas {folder} do not fit the base model: dims (deltas, base) differ: {diff}")
    if not want_sha:
        print(f"warning: {folder}/config.json records no base sha256; cannot verify the base", flush=True)


def _static_mask_path(name: str | None, folder: Path) -> Path:
    """The mask file named in the training config: as given, or relative to training/ (where training ran)."""
    if not name:
        raise BuildError(f"{folder}/config.json is a static run without training.static_mask_file")
    for p in (Path(name), folder.parent.parent / name, folder / Path(name).name):
        if p.is_file():
            return p
    raise BuildError(f"static mask file {name!r} of {folder} not found (looked in ., {folder.parent.parent}, "
                     f"{folder}); copy it next to config.json")


def _set_static_routers(skip: SkipLlama, mask_path: Path) -> None:
    """ShortGPT-style static skipping expressed with the routers: weight 0 and a bias that makes p_execute
    exactly 1 (runs) or ~1e-26 (skipped), so the same graph and engine serve static baselines."""
    from ..config import ConfigError, load_static_mask

    try:
        mask = load_static_mask(mask_path, skip.num_layers)
    except ConfigError as e:
        raise BuildError(str(e)) from e
    with torch.no_grad():
        for r, row in zip(skip.routers, mask.tolist()):
            for lin, executed in ((r.attn, row[0]), (r.mlp, row[1])):
                lin.weight.zero_()
                lin.bias.copy_(torch.tensor([30.0, -30.0] if executed else [-30.0, 30.0]))


def apply_deltas(skip: SkipLlama, folder: Path, log=print) -> list[Delta]:
    """Load routers and merge LoRA into skip.base in place; returns provenance entries (file name + sha256)."""
    folder = Path(folder)
    cfg = read_delta_config(folder)
    training = cfg.get("training") or {}
    kind = training.get("kind", "routed")
    used = []
    routers = folder / "routers.safetensors"
    if kind == "static":
        mask_path = _static_mask_path(training.get("static_mask_file"), folder)
        _set_static_routers(skip, mask_path)
        used.append(Delta(f"static-mask:{mask_path.name}", sha256_of(mask_path)))
        log(f"routers: static mask {mask_path} (same sublayers skipped for every token at threshold 0 < t <= 1)")
    elif routers.is_file():
        sd = load_safetensors(routers)
        try:
            skip.load_router_state_dict(sd)
        except ValueError as e:
            raise BuildError(f"{routers}: {e}") from e
        used.append(Delta(f"{folder.name}/routers.safetensors", sha256_of(routers)))
        log(f"routers: loaded {len(sd)} tensors from {routers}")
    else:
        # LoRA-only (dense) deltas: routers that always execute, so the graph equals the dense model.
        with torch.no_grad():
            for r in skip.routers:
                for lin in (r.attn, r.mlp):
                    lin.weight.zero_()
                    lin.bias.copy_(torch.tensor([30.0, -30.0]))
        log("routers: none in deltas; exporting always-execute routers (dense model)")
    lora = folder / "lora"
    if lora.is_dir():
        from peft import PeftModel

        try:
            peft_model = PeftModel.from_pretrained(skip.base, str(lora))
        except Exception as e:  # noqa: BLE001 - peft errors are long; name the folder and the cause
            raise BuildError(f"could not load LoRA adapter {lora}: {type(e).__name__}: {e}") from e
        # No .float() here: transformers refuses it on GGUF-loaded models (is_quantized), and the merged weights
        # already have the base's float32 dtype; export_folder casts the whole SkipLlama via nn.Module.float.
        skip.base = peft_model.merge_and_unload().eval()
        weights = next(iter(sorted(lora.glob("adapter_model.*"))), None)
        used.append(Delta(f"{folder.name}/lora", sha256_of(weights) if weights else ""))
        log(f"lora: merged {lora}")
    return used


@contextmanager
def deltas_applied(base, folder: Path):
    """A SkipLlama of `base` + the folder's deltas (routers, LoRA merged), assembled as `skipgpt build` does
    (apply_deltas above); the merge changes `base` in place, so its weights are restored on exit and one
    loaded base serves every row."""
    pristine = {k: v.detach().clone() for k, v in base.state_dict().items()}
    try:
        skip = SkipLlama(base)
        apply_deltas(skip, Path(folder), log=lambda *_: None)
        yield skip.eval()
    finally:
        base.load_state_dict(pristine)
