"""Skip-rate calibration: the realised fraction of skipped sublayers as a function of the router threshold, measured
by prefilling held-out code with a model folder's own CPU graph, stored as manifest `router.calibration`.

Why: router probabilities crowd near 0 and 1, so the threshold is a poor dial (0.02 -> 15% skipped, 0.98 -> 47%).
With this curve the engine maps a requested skip rate to a threshold (extension/engine/sparsity.ts).
Text: Python standard-library files whose content hash puts them in the corpus's *test* split (corpus.split_of),
so the routers never trained on them; deterministic for a given Python version, and present wherever the toolkit
runs. One window per file from its middle (code bodies rather than licence headers).
Command: `python -m skipgpt calibrate --model DIR` (re)calibrates an existing folder; the build calls `calibrate`.
"""
from __future__ import annotations

import functools
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from .manifest import Calibration, CalibrationPoint, Dims, FileIntegrity, IONames, read_manifest

# Thresholds t = sigmoid(z): dense in logit space because router probabilities crowd near 0 and 1.
Z_GRID = [float(z) for z in range(-14, 7)]
WINDOWS = 4
WINDOW_TOKENS = 256
_EXCLUDED_DIRS = {"test", "tests", "idlelib", "lib2to3", "turtledemo"}  # code people write, not test data


def thresholds(z_grid: list[float] = Z_GRID) -> list[float]:
    """0 (dense: every p_execute >= 0, measured without a run) plus sigmoid(z), as the graph's float32 sees it."""
    return [0.0] + [float(np.float32(1.0 / (1.0 + math.exp(-z)))) for z in sorted(z_grid)]


@functools.lru_cache(maxsize=4)  # a stdlib scan takes ~1.5 s; tests export several folders per process
def held_out_files(count: int, min_chars: int = 2000) -> tuple[tuple[str, str], ...]:
    """(path relative to the stdlib, text) of the first `count` stdlib files (path order) in the corpus test split."""
    from ..corpus import discover_stdlib, read_and_dedup, split_of

    files = [f for f in discover_stdlib() if not set(f.rel.split("/")[1:-1]) & _EXCLUDED_DIRS]
    kept, _ = read_and_dedup(files)
    held = [f for f in sorted(kept, key=lambda f: f.rel) if split_of(f.content_id) == "test" and len(f.text) >= min_chars]
    return tuple((f.rel.removeprefix("stdlib/"), f.text) for f in held[:count])


def windows_from(texts, encode, window: int) -> tuple[list[list[int]], list[str]]:
    """One window of `window` tokens from the middle of each text long enough; returns (windows, their names)."""
    out, names = [], []
    for name, text in texts:
        ids = encode(text)
        if len(ids) < window:
            continue
        start = (len(ids) - window) // 2
        out.append(ids[start:start + window])
        names.append(name)
    return out, names


def threshold_for(points: list[dict], target: float) -> float:
    """The engine's thresholdForSkipRate (extension/engine/sparsity.ts) on points given as dicts with the
    CalibrationPoint fields: running-maximum curve, linear interpolation in logit(threshold)."""
    curve, best = [], 0.0
    for p in points:
        best = max(best, p["skip"])
        if 0 < p["threshold"] < 1:
            curve.append((p["threshold"], best))
    if target <= curve[0][1]:
        return curve[0][0]
    if target >= curve[-1][1]:
        return curve[-1][0]
    i = next(i for i, (_, s) in enumerate(curve) if s >= target)
    (ta, sa), (tb, sb) = curve[i - 1], curve[i]
    logit = lambda t: math.log(t) - math.log1p(-t)  # noqa: E731
    z = logit(ta) + (target - sa) / (sb - sa) * (logit(tb) - logit(ta))
    return 1.0 / (1.0 + math.exp(-z))


def measure(session, dims: Dims, windows: list[list[int]], grid: list[float], io: IONames | None = None,
            progress=None) -> list[CalibrationPoint]:
    """Prefill every window at every threshold of `grid`; skipped fraction = mean over tokens and layers of
    p_execute < threshold (float32, the graph's own rule), from the probabilities of that very run (skipping
    changes later layers' inputs, hence one run per threshold)."""
    from .ort_runner import OrtModel

    runner = OrtModel(session, dims, io, capacity=max(len(w) for w in windows))
    points = []
    for i, t in enumerate(grid):
        if t == 0.0:
            points.append(CalibrationPoint(0.0, 0.0, 0.0, 0.0))
            continue
        skipped = np.zeros(2)
        count = 0
        for w in windows:
            runner.reset()
            probs = runner.step(w, t, num_logits=1).probs  # [S, L, 2]
            skipped += (probs < np.float32(t)).sum(axis=(0, 1))
            count += probs.shape[0] * probs.shape[1]
        a, m = skipped / count
        points.append(CalibrationPoint(t, round(float((a + m) / 2), 5), round(float(a), 5), round(float(m), 5)))
        if progress:
            progress(i + 1, len(grid), points[-1])
    return points


def calibrate(folder: str | Path, dims: Dims, *, io: IONames | None = None, windows: int = WINDOWS,
              window_tokens: int = WINDOW_TOKENS, grid: list[float] | None = None, log=print) -> Calibration:
    """Measure the calibration curve of the CPU graph in `folder` (its tokenizer.json and model.onnx)."""
    from tokenizers import Tokenizer

    from .ort_runner import make_session

    t0 = time.time()
    folder = Path(folder)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    window_tokens = min(window_tokens, dims.max_positions)
    texts = held_out_files(windows * 2)  # spares for files shorter than a window in this tokenizer
    wins, names = windows_from(texts, lambda t: tok.encode(t, add_special_tokens=False).ids, window_tokens)
    wins, names = wins[:windows], names[:windows]
    if not wins:
        raise RuntimeError("calibration: no held-out standard-library file is long enough")
    grid = grid or thresholds()
    session = make_session(str(folder / "model.onnx"))

    def progress(i, n, p):
        log(f"calibrate: {i}/{n} threshold {p.threshold:.3g}: {100 * p.skip:.1f}% skipped "
            f"(attn {100 * p.attn_skip:.1f}%, mlp {100 * p.mlp_skip:.1f}%) [{time.time() - t0:.0f}s]")

    points = measure(session, dims, wins, grid, io, progress=progress)
    ver = f"{sys.version_info.major}.{sys.version_info.minor}"
    source = (f"CPython {ver} standard library, files in the corpus test split (never trained on): "
              f"{', '.join(names)}; one {window_tokens}-token window from the middle of each, prefilled "
              f"(model.onnx, CPU)")
    cal = Calibration(source=source, tokens=sum(len(w) for w in wins), points=points)
    log(f"calibrate: {len(grid)} thresholds x {cal.tokens} tokens in {time.time() - t0:.1f}s")
    return cal


def calibrate_folder(folder: str | Path, log=print, **kw) -> Path:
    """Calibrate an existing model folder and rewrite its manifest. Files are checked against the manifest's
    integrity first (a damaged folder must not get a fresh seal); a folder without integrity gets it written."""
    from .integrity import folder_integrity, sample_sha256

    folder = Path(folder)
    man = read_manifest(folder)
    for name, want in (man.integrity or {}).items():
        p = folder / name
        if p.exists() and (p.stat().st_size != want.size or sample_sha256(p) != want.sample_sha256):
            raise RuntimeError(f"{p} does not match the manifest's integrity entry: rebuild the folder")
    man.router.calibration = calibrate(folder, man.dims, io=man.io, log=log, **kw)
    if man.integrity is None:
        man.integrity = {n: FileIntegrity(**v) for n, v in folder_integrity(folder, man.files.names()).items()}
    return man.write(folder)


def _run(args) -> int:
    try:
        path = calibrate_folder(args.model, windows=args.windows, window_tokens=args.window_tokens)
    except (RuntimeError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    points = json.loads(path.read_text())["router"]["calibration"]["points"]
    print(f"wrote {path} ({len(points)} calibration points)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("calibrate", help="measure skip rate vs router threshold on held-out code and store it in "
                                         "the model folder's manifest (lets the engine take a target skip rate)",
                       description=__doc__)
    p.add_argument("--model", required=True, help="model folder (manifest.json, model.onnx, tokenizer.json)")
    p.add_argument("--windows", type=int, default=WINDOWS, help=f"held-out files, one window each (default {WINDOWS})")
    p.add_argument("--window-tokens", type=int, default=WINDOW_TOKENS,
                   help=f"tokens per window (default {WINDOW_TOKENS})")
    p.set_defaults(func=_run)
