"""One-command model build: base + deltas -> models/<name>/ (model.onnx, model.onnx.data, tokenizer.json,
manifest.json, parity.json). Writes into a temporary folder next to the target and renames it at the end, so an
error never leaves a half-written model folder. `export_folder` is the step shared with the tiny fixture.
"""
from __future__ import annotations

import copy
import datetime
import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from ..model import SkipLlama
from .build_temp import make_build_temp
from .deltas import BuildError, apply_deltas, check_base_match, read_delta_config
from .graph_model import build_graph, save_model
from .integrity import folder_integrity
from .manifest import FileIntegrity, Files, Manifest, Provenance, Quantization, SpecialTokens
from .parity import check_parity, write_parity
from .weights import extract_weights

CODE_TOKENS = ["<filename>", "<file_sep>", "<repo_name>", "<reponame>", "<gh_stars>", "<jupyter_code>",
               "<jupyter_output>", "<|endoftext|>"]
FIM_TOKENS = {"prefix": "<fim_prefix>", "middle": "<fim_middle>", "suffix": "<fim_suffix>", "pad": "<fim_pad>"}
REAL_PROMPTS = {  # code prompts for the real model's parity.json
    "py_fib": "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "js_sum": "function sum(values) {\n  let total = 0;\n",
    "py_file": "<filename>utils/strings.py\nimport re\n\n\ndef slugify(text):\n",
}
REAL_TOKENIZER_TEXTS = ["def hello():\n    print('hi')\n", "x = 1234567\n", "<filename>a.py\n", "héllo ✓\t\n  ",
                        "<|im_start|>user\nhello<|im_end|>\n"]


def special_tokens_from(tokenizer_json: Path, bos: str | None, eos: str, pad: str | None) -> SpecialTokens:
    """Ids of the named tokens plus the code/FIM tokens the vocabulary has (added tokens of tokenizer.json)."""
    data = json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))
    added = {t["content"]: t["id"] for t in data.get("added_tokens", [])}
    vocab = {**data.get("model", {}).get("vocab", {}), **added}

    def tid(tok):
        if tok is None:
            return None
        if tok not in vocab:
            raise BuildError(f"special token {tok!r} is not in {tokenizer_json}")
        return vocab[tok]

    fim = {k: vocab[v] for k, v in FIM_TOKENS.items() if v in vocab}
    return SpecialTokens(bos_id=tid(bos), bos=bos, eos_id=tid(eos), eos=eos, pad_id=tid(pad), pad=pad,
                         code={t: vocab[t] for t in CODE_TOKENS if t in vocab},
                         fim=fim if len(fim) == len(FIM_TOKENS) else None)


def export_folder(skip: SkipLlama, out: Path, *, name: str, tokenizer_json: Path, prompts: dict[str, list[int]],
                  thresholds: list[float], greedy_steps: int, tokenizer_cases: list[dict], provenance: Provenance,
                  special: SpecialTokens | None = None, skip_mode: str = "gather", quant: str | None = None,
                  gguf_path: Path | None = None, align: int = 65536, logits_vocab: int = 16, log=print,
                  verify: bool = True, gpu_graph: bool = True, calibrate: bool = True,
                  default_skip_rate: float | None = None) -> Path:
    """Export one SkipLlama into the empty folder `out` and check the ONNX model against the parity file.
    gpu_graph: also write model.gpu.onnx (skip mode "if", same weights file) for GPU providers (gpu_graph.py).
    calibrate: measure skip rate vs threshold on held-out code into manifest router.calibration (calibrate.py).
    default_skip_rate: set router.threshold_default to the calibrated threshold of this rate (what the engine runs
    when a request names neither threshold nor rate); None keeps the trained 0.5."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=False)
    t0 = time.time()
    skip = skip.float().eval()
    weights = extract_weights(skip)
    log(f"graph: {weights.dims.layers} layers, hidden {weights.dims.hidden}, vocab {weights.dims.vocab}, "
        f"skip mode {skip_mode}")
    if quant == "gguf":
        from .gguf_blocks import requantize_from_gguf

        if gguf_path is None:
            raise BuildError("--quant gguf re-encodes the blocks of a GGUF base; this base is not a .gguf file")
        weights, gguf_quant = requantize_from_gguf(weights, gguf_path, log=log)

    def make_graph(mode: str, log=log):
        """The graph in skip mode `mode`, quantized as asked (deterministic: both modes get the same tensors)."""
        quantization = Quantization()
        if quant == "gguf":
            from .quantize import embedding_from_head

            model, quantization = build_graph(weights, mode), copy.deepcopy(gguf_quant)
            if weights.lm_head is None and weights.head_quant is not None and \
                    embedding_from_head(model, weights.head_quant.bits, log=log):
                quantization.weights.append(f"embedding:{weights.head_quant.kind}")
        else:
            model = build_graph(weights, mode, head_matmul=bool(quant))
            if quant:
                from .quantize import quantize_model
                model, quantization = quantize_model(model, weights, quant, log=log)
        return model, quantization

    model, quantization = make_graph(skip_mode)
    save_model(model, out, align=align)
    del model
    log(f"onnx: wrote model.onnx + model.onnx.data ({(out / 'model.onnx.data').stat().st_size / 2**20:.1f} MiB) "
        f"in {time.time() - t0:.1f}s")
    files = Files()
    if gpu_graph and skip_mode != "if":
        from .gpu_graph import GPU_MODEL, save_sharing

        save_sharing(make_graph("if", log=lambda *_: None)[0], out)
        files = Files(model_gpu=GPU_MODEL)
        log(f"onnx: wrote {GPU_MODEL} (skip mode if, shares model.onnx.data) for GPU providers")
    shutil.copyfile(tokenizer_json, out / "tokenizer.json")
    special = special or special_tokens_from(out / "tokenizer.json", "<|im_start|>", "<|im_end|>", "<|im_end|>")
    if not provenance.exported_at:
        provenance.exported_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if not provenance.toolkit_version:
        import skipgpt  # noqa: PLC0415

        provenance.toolkit_version = getattr(skipgpt, "__version__", "0.1.0")
    man = Manifest(name=name, dims=weights.dims, special_tokens=special, provenance=provenance,
                   quantization=quantization, skip_mode=skip_mode, files=files)
    man.write(out)
    t1 = time.time()
    # The ONNX model proposes greedy continuations (fast, cached); PyTorch verifies each in one forward and
    # stays the sole source of the reference values (parity.greedy_reference).
    from .ort_runner import OrtModel, make_session
    proposer = OrtModel(make_session(out / "model.onnx"), weights.dims, capacity=64)
    write_parity(skip, out / "parity.json", name, prompts, thresholds, greedy_steps, tokenizer_cases,
                 logits_vocab=logits_vocab, progress=lambda c: log(f"parity: {c}"),
                 propose=lambda prefix, n, thr: proposer.greedy(prefix, n, thr))
    del proposer
    log(f"parity: {len(prompts) * len(thresholds)} cases in {time.time() - t1:.1f}s")
    if calibrate:  # before the integrity step below; the manifest is not among the files it hashes anyway
        from .calibrate import calibrate as measure_calibration

        try:
            man.router.calibration = measure_calibration(out, weights.dims, log=log)
        except RuntimeError as e:  # e.g. a Python without standard-library sources: the model still works
            log(f"calibrate: skipped ({e}); this folder will take thresholds but refuse skip-rate requests")
    if default_skip_rate is not None:
        if man.router.calibration is None:
            raise BuildError("--default-skip-rate needs the calibration (do not combine it with --no-calibrate)")
        from .calibrate import threshold_for

        man.router.threshold_default = threshold_for([asdict(p) for p in man.router.calibration.points],
                                                     default_skip_rate)
        log(f"default: {default_skip_rate:.0%} of sublayers skipped = threshold {man.router.threshold_default:.4g}")
    # Every file is final now: record size + hashes so the engine can detect a truncated or swapped file.
    man.integrity = {n: FileIntegrity(**v) for n, v in folder_integrity(out, man.files.names()).items()}
    man.write(out)
    if verify:
        problems = check_parity(out)
        if problems and not quant:
            raise BuildError("the exported ONNX model does not match PyTorch:\n  " + "\n  ".join(problems))
        for p in problems:  # a quantized graph is not expected to match fp32 PyTorch exactly
            log(f"parity (quantized, informational): {p}")
        log("verify: ONNX matches PyTorch on parity.json" if not problems else "verify: done")
    return out


def build(base: str, deltas: Path | None, out: Path, *, quant: str | None = None, name: str | None = None,
          skip_mode: str = "gather", greedy_steps: int = 32, calibrate: bool = True,
          default_skip_rate: float | None = None, log=print) -> Path:
    """CLI entry: load base, apply deltas, export, verify, then atomically move into `out`."""
    from ..loader import load_base, save_tokenizer_json

    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()):
        raise BuildError(f"{out} already exists and is not empty; remove it or choose another --out")
    delta_cfg = read_delta_config(deltas) if deltas else None  # fail fast, before the 20 s base load
    log(f"base: loading {base}")
    model, tok, info = load_base(base)
    info_d = info.to_dict()
    if delta_cfg is not None:
        check_base_match(delta_cfg, info_d, Path(deltas))
    if quant == "gguf" and info.kind != "gguf":
        raise BuildError(f"--quant gguf re-encodes a GGUF base's own blocks; {base} is not a .gguf file "
                         "(use --quant int8)")
    skip = SkipLlama(model)
    used = apply_deltas(skip, Path(deltas), log=log) if deltas else []
    if not deltas:
        log("deltas: none given; routers are untrained (random) — useful for speed tests only")
    sha = next(iter(info_d.get("sha256", {}).values()), None)
    prov = Provenance(base_name=info.name, base_sha256=sha, deltas=used, toolkit_version="", exported_at="")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_root = make_build_temp(out, log=log)  # also removes temp folders of builds that were killed
    try:
        tok_json = save_tokenizer_json(tok, tmp_root / "tokenizer.json")
        enc = lambda t: tok(t, add_special_tokens=False)["input_ids"]  # noqa: E731
        special = special_tokens_from(tok_json, tok.bos_token, tok.eos_token, tok.pad_token)
        folder = export_folder(
            skip, tmp_root / "model", name=name or out.name, tokenizer_json=tok_json,
            prompts={k: enc(v) for k, v in REAL_PROMPTS.items()}, thresholds=[0.0, 0.5],
            greedy_steps=greedy_steps, tokenizer_cases=[{"text": t, "ids": enc(t)} for t in REAL_TOKENIZER_TEXTS],
            provenance=prov, special=special, skip_mode=skip_mode, quant=quant, logits_vocab=32, log=log,
            calibrate=calibrate, default_skip_rate=default_skip_rate,
            gguf_path=Path(info.source) if info.kind == "gguf" else None)
        if out.exists():
            out.rmdir()  # empty (checked above)
        folder.rename(out)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    log(f"done: {out}")
    return out
