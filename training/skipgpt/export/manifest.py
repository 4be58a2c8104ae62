"""manifest.json: the contract between the exporter and the TypeScript engine (docs/MANIFEST.md).

One dataclass tree writes it; `read_manifest` reads it strictly (unknown format or version, missing or mistyped
field -> ManifestError). Unknown extra keys are ignored so additive optional fields keep format_version 1.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path

FORMAT = "skipgpt-onnx"
FORMAT_VERSION = 1


class ManifestError(ValueError):
    pass


@dataclass
class Files:
    model: str = "model.onnx"
    weights: str = "model.onnx.data"
    tokenizer: str = "tokenizer.json"
    parity: str = "parity.json"
    # Graph for GPU providers (skip mode "if": no kernel sees 0 rows; export/gpu_graph.py). Optional: folders
    # without it run on the CPU provider only.
    model_gpu: str | None = None

    def names(self) -> list[str]:
        """The file names this manifest names (optional ones only when set)."""
        return [v for v in asdict(self).values() if v]


@dataclass
class FileIntegrity:
    """One file of the folder (export/integrity.py): size in bytes, sha256 of the whole file, and sample_sha256
    (the whole file up to 1 MiB, else 16 blocks of 64 KiB) that the engine checks at every load."""
    size: int
    sha256: str
    sample_sha256: str


@dataclass
class Dims:
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    max_positions: int  # RoPE table size: past_length + S must stay below this
    rope_theta: float
    rms_eps: float


@dataclass
class IONames:
    """Graph input/output names; `{layer}` in a template is replaced by the layer index (0-based)."""
    input_ids: str = "input_ids"
    past_length: str = "past_length"
    threshold: str = "threshold"
    num_logits: str = "num_logits"
    past_key: str = "past_key.{layer}"
    past_value: str = "past_value.{layer}"
    logits: str = "logits"
    router_probs: str = "router_probs"
    new_key: str = "new_key"
    new_value: str = "new_value"


@dataclass
class SpecialTokens:
    bos_id: int | None
    bos: str | None
    eos_id: int
    eos: str
    pad_id: int | None
    pad: str | None
    # Code-related added tokens the vocabulary has (e.g. "<filename>", "<file_sep>"), text -> id.
    code: dict[str, int] = field(default_factory=dict)
    # Fill-in-the-middle tokens, only when the vocabulary has all of them (SmolLM2 has none).
    fim: dict[str, int] | None = None


@dataclass
class CalibrationPoint:
    """Realised fraction of skipped sublayers (both, attention, MLP) when prefilling at `threshold`."""
    threshold: float
    skip: float
    attn_skip: float
    mlp_skip: float


@dataclass
class Calibration:
    """Skip rate vs threshold measured on held-out text (export/calibrate.py): lets a user ask for a skip rate.
    Points in ascending threshold; the curve need not be monotone (readers take a running max for lookup)."""
    source: str  # which text, how it was cut into windows
    tokens: int  # tokens prefilled per threshold
    points: list[CalibrationPoint]


@dataclass
class Router:
    modules: list[str] = field(default_factory=lambda: ["attn", "mlp"])
    threshold_default: float = 0.5
    probs_layout: str = "[S, L, 2]"  # router_probs[s][l][m] = p_execute of module m at layer l for new token s
    rule: str = "execute iff p_execute >= threshold"
    # Optional (additive, format_version stays 1): absent in folders built without calibration.
    calibration: Calibration | None = None


@dataclass
class Quantization:
    method: str = "none"  # "none" | "MatMulNBits"
    bits: int | None = None
    block_size: int | None = None
    weights: list[str] = field(default_factory=list)  # which weight groups are quantized, e.g. ["layers", "lm_head"]


@dataclass
class Delta:
    name: str
    sha256: str


@dataclass
class Provenance:
    base_name: str
    base_sha256: str | None
    deltas: list[Delta]
    toolkit_version: str
    exported_at: str  # ISO 8601 UTC


@dataclass
class Manifest:
    name: str
    dims: Dims
    special_tokens: SpecialTokens
    provenance: Provenance
    files: Files = field(default_factory=Files)
    io: IONames = field(default_factory=IONames)
    router: Router = field(default_factory=Router)
    quantization: Quantization = field(default_factory=Quantization)
    dtype: str = "float32"  # activations, caches and logits
    skip_mode: str = "gather"  # how the graph skips sublayers (docs/EXPORT.md); informational
    # Optional (additive, format_version stays 1): {file name as in `files`: FileIntegrity}; written by the build
    # once every file is final. Absent in folders exported before it existed.
    integrity: dict[str, FileIntegrity] | None = None
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        d = asdict(self)
        # format fields first so a human (and a quick `head`) sees them
        ordered = {"format": d.pop("format"), "format_version": d.pop("format_version"), **d}
        if ordered["integrity"] is None:
            del ordered["integrity"]  # optional field: absent rather than null
        if ordered["router"]["calibration"] is None:
            del ordered["router"]["calibration"]
        return json.dumps(ordered, indent=2) + "\n"

    def write(self, folder: str | Path) -> Path:
        path = Path(folder) / "manifest.json"
        path.write_text(self.to_json(), encoding="utf-8")
        return path


# ---------------- strict reader ----------------

def _check(value, tp, where: str):
    """Check `value` against a type annotation; returns the converted value."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check(value, inner[0], where)
    if dataclasses.is_dataclass(tp):
        return _from_dict(tp, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ManifestError(f"{where}: expected a list, got {type(value).__name__}")
        return [_check(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ManifestError(f"{where}: expected an object, got {type(value).__name__}")
        return {str(k): _check(v, args[1], f"{where}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ManifestError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ManifestError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ManifestError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported manifest field type {tp}")


def _from_dict(cls, data, where: str):
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            if has_default and f.name not in _REQUIRED.get(cls.__name__, ()):
                continue
            raise ManifestError(f"{where}.{f.name}: missing required field")
        kwargs[f.name] = _check(data[f.name], hints[f.name], f"{where}.{f.name}")
    return cls(**kwargs)


# Fields with a Python default that a file must still state explicitly (the engine depends on them).
_REQUIRED = {"Manifest": ("files", "io", "router", "quantization", "dtype", "format", "format_version")}


def parse_manifest(data: dict) -> Manifest:
    if not isinstance(data, dict):
        raise ManifestError("manifest: expected a JSON object")
    if data.get("format") != FORMAT:
        raise ManifestError(f"manifest: format is {data.get('format')!r}, expected {FORMAT!r} "
                            "(is this a SkipGPT model folder?)")
    if data.get("format_version") != FORMAT_VERSION:
        raise ManifestError(f"manifest: format_version {data.get('format_version')!r} is not supported "
                            f"(this reader knows {FORMAT_VERSION}); re-export the model or update the toolkit")
    m = _from_dict(Manifest, data, "manifest")
    d = m.dims
    if d.heads % d.kv_heads or d.hidden != d.heads * d.head_dim:
        raise ManifestError(f"manifest.dims: inconsistent heads={d.heads} kv_heads={d.kv_heads} "
                            f"head_dim={d.head_dim} hidden={d.hidden}")
    if m.dtype != "float32":
        raise ManifestError(f"manifest.dtype {m.dtype!r} is not supported (float32 only)")
    if m.quantization.method not in ("none", "MatMulNBits"):
        raise ManifestError(f"manifest.quantization.method {m.quantization.method!r} is unknown")
    cal = m.router.calibration
    if cal is not None:
        ts = [p.threshold for p in cal.points]
        fracs = [v for p in cal.points for v in (p.skip, p.attn_skip, p.mlp_skip)]
        if len(ts) < 2 or ts != sorted(set(ts)) or ts[0] < 0 or not all(0 <= v <= 1 for v in fracs):
            raise ManifestError("manifest.router.calibration.points: need >= 2 points, thresholds >= 0 strictly "
                                "ascending, skip fractions in [0, 1]")
    return m


def read_manifest(folder: str | Path) -> Manifest:
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise ManifestError(f"{path} not found: the model folder needs a manifest.json (run `python -m skipgpt build`)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ManifestError(f"{path}: not valid JSON ({e})") from e
    return parse_manifest(data)
