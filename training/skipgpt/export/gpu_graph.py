"""The GPU graph of a model folder: the same weights as model.onnx, routed with skip mode "if", saved as
model.gpu.onnx that reads the tensors of the existing model.onnx.data (no second copy on disk).

Why a second graph (docs/EXPORT.md, "GPU graph"): onnxruntime's WebGPU kernels fail on empty tensors — the
RotaryEmbedding kernel divides by zero (SIGFPE, the process dies) and Softmax refuses a (0, 1, 1) dispatch — and the
CPU graph ("gather") runs a skipped sublayer's kernels on 0 rows. In the "if" graph a sublayer whose decision is
false for every row takes an Identity branch, so no kernel ever sees 0 rows; on the CPU that costs ~10% when
everything executes (60 If nodes per token), which is why the CPU keeps the gather graph.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import onnx
from onnx import external_data_helper

GPU_MODEL = "model.gpu.onnx"


def _external_index(model_path: Path) -> dict[str, dict[str, str]]:
    """name -> external data fields (location, offset, length) of every external tensor of a saved model."""
    m = onnx.load(str(model_path), load_external_data=False)
    index = {}
    for t in m.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            index[t.name] = {e.key: e.value for e in t.external_data}
    return index


def save_sharing(model: onnx.ModelProto, folder: Path, reference: str = "model.onnx",
                 out_name: str = GPU_MODEL, min_external: int = 1024) -> Path:
    """Save `model` as folder/out_name with every large initializer pointing into the data file of the already
    saved folder/reference. Each shared tensor is checked byte for byte against the bytes it will read, so a graph
    whose weights differ (another quantization, other names) is refused instead of silently reading wrong data."""
    folder = Path(folder)
    index = _external_index(folder / reference)
    files: dict[str, object] = {}
    try:
        for t in model.graph.initializer:
            raw = t.raw_data
            if len(raw) < min_external:
                continue
            ref = index.get(t.name)
            if ref is None or int(ref.get("length", -1)) != len(raw):
                raise ValueError(f"GPU graph tensor {t.name} has no same-sized twin in {reference}")
            loc, offset = ref["location"], int(ref.get("offset", 0))
            f = files.get(loc) or files.setdefault(loc, open(folder / loc, "rb"))
            f.seek(offset)
            if hashlib.sha256(f.read(len(raw))).digest() != hashlib.sha256(raw).digest():
                raise ValueError(f"GPU graph tensor {t.name} differs from its twin in {reference}")
            external_data_helper.set_external_data(t, loc, offset, len(raw))
            t.ClearField("raw_data")
            t.data_location = onnx.TensorProto.EXTERNAL
    finally:
        for f in files.values():
            f.close()
    path = folder / out_name
    onnx.save_model(model, str(path))
    return path
