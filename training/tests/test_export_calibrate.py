"""Skip-rate calibration (export/calibrate.py): the build writes manifest router.calibration measured on held-out
stdlib code and agreeing with PyTorch's hard routing; --no-calibrate leaves it out; `calibrate` adds it to an existing
folder (refusing a damaged one); the strict reader accepts it as optional and refuses malformed curves."""
import json
import shutil
from pathlib import Path

import pytest
import torch

from skipgpt.corpus import SourceFile, read_and_dedup, split_of
from skipgpt.export.build import export_folder
from skipgpt.export.calibrate import WINDOW_TOKENS, WINDOWS, calibrate_folder, held_out_files, thresholds, windows_from
from skipgpt.export.manifest import (Calibration, CalibrationPoint, Delta, ManifestError, Provenance, parse_manifest,
                                     read_manifest)
from tiny_models import routed_tiny

TOKENIZER = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "tiny" / "tokenizer.json"


def _export(out: Path, calibrate: bool):
    skip = routed_tiny(layers=2, vocab=384, router_std=1.0)
    prov = Provenance(base_name="tiny", base_sha256=None, deltas=[Delta("r", "")], toolkit_version="t",
                      exported_at="2026-01-01T00:00:00Z")
    export_folder(skip, out, name="t", tokenizer_json=TOKENIZER, prompts={"a": [40, 41, 42]}, thresholds=[0.5],
                  greedy_steps=2, tokenizer_cases=[], provenance=prov, align=64, log=lambda *_: None,
                  gpu_graph=False, calibrate=calibrate)
    return skip


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("cal") / "m"
    return out, _export(out, calibrate=True)


def _windows():
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(TOKENIZER))
    wins, names = windows_from(held_out_files(2 * WINDOWS), lambda t: tok.encode(t, add_special_tokens=False).ids,
                               WINDOW_TOKENS)
    return wins[:WINDOWS], names[:WINDOWS]


def test_build_writes_a_curve_that_pytorch_reproduces(built):
    out, skip = built
    cal = read_manifest(out).router.calibration
    assert cal is not None and cal.tokens == WINDOWS * WINDOW_TOKENS
    assert [p.threshold for p in cal.points] == thresholds()
    assert cal.points[0].skip == 0 and cal.points[-1].skip > 0.5  # 0 = dense; sigmoid(6) skips most
    wins, names = _windows()
    assert all(n in cal.source for n in names)
    for p in cal.points[1:]:
        assert p.skip == pytest.approx((p.attn_skip + p.mlp_skip) / 2, abs=1e-5)
    for p in (cal.points[8], cal.points[15], cal.points[18]):  # ~3e-4, 0.5, 0.95
        with torch.no_grad():
            gates = torch.cat([skip(torch.tensor([w]), mode="hard", threshold=p.threshold).gates[0] for w in wins])
        attn, mlp = (1 - gates.float().mean(dim=(0, 1))).tolist()  # [S, L, 2] -> per module
        # ONNX and PyTorch differ only where a probability sits within float noise of the threshold.
        assert attn == pytest.approx(p.attn_skip, abs=0.01) and mlp == pytest.approx(p.mlp_skip, abs=0.01)
    assert 0 < cal.points[15].skip < 1


def test_calibration_text_is_in_the_corpus_test_split():
    import sys
    import sysconfig

    lib = Path(sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})["stdlib"])
    _, names = _windows()
    assert len(names) == WINDOWS
    # The corpus's own reader computes the content id that decides the split: test, so never a training file.
    kept, _ = read_and_dedup([SourceFile(lib / n, n, "p", "l", "python") for n in names])
    assert len(kept) == WINDOWS
    assert [split_of(f.content_id) for f in kept] == ["test"] * WINDOWS


def test_no_calibrate_then_calibrate_command(tmp_path, built):
    out = tmp_path / "m"
    _export(out, calibrate=False)
    assert "calibration" not in json.loads((out / "manifest.json").read_text())["router"]
    assert read_manifest(out).router.calibration is None
    before = read_manifest(out).integrity
    from skipgpt.export.cli import main

    assert main(["calibrate", "--model", str(out)]) == 0
    man = read_manifest(out)
    assert man.router.calibration == read_manifest(built[0]).router.calibration  # same model, same text
    assert man.integrity == before  # files unchanged, entries kept


def test_calibrate_refuses_a_damaged_folder_and_seals_an_unsealed_one(tmp_path, built):
    out = tmp_path / "m"
    shutil.copytree(built[0], out)
    with open(out / "parity.json", "ab") as f:
        f.write(b" ")
    with pytest.raises(RuntimeError, match="does not match the manifest's integrity"):
        calibrate_folder(out, log=lambda *_: None)
    d = json.loads((out / "manifest.json").read_text())
    del d["integrity"], d["router"]["calibration"]
    (out / "manifest.json").write_text(json.dumps(d))
    calibrate_folder(out, log=lambda *_: None)
    man = read_manifest(out)
    assert man.router.calibration is not None
    assert man.integrity["parity.json"].size == (out / "parity.json").stat().st_size


def _manifest_dict(built_dir: Path) -> dict:
    return json.loads((built_dir / "manifest.json").read_text())


@pytest.mark.parametrize("change, message", [
    (lambda c: c["points"].reverse(), "strictly ascending"),
    (lambda c: c["points"][3].update(skip=1.5), "in \\[0, 1\\]"),
    (lambda c: c.update(points=c["points"][:1]), ">= 2 points"),
    (lambda c: c["points"][2].update(threshold=c["points"][1]["threshold"]), "strictly ascending"),
    (lambda c: c["points"][2].pop("mlp_skip"), "mlp_skip: missing"),
    (lambda c: c.update(tokens=1.5), "tokens: expected an integer"),
])
def test_reader_refuses_malformed_calibration(built, change, message):
    d = _manifest_dict(built[0])
    change(d["router"]["calibration"])
    with pytest.raises(ManifestError, match=message):
        parse_manifest(d)


def test_reader_round_trip_and_optional(built):
    d = _manifest_dict(built[0])
    m = parse_manifest(d)
    assert isinstance(m.router.calibration, Calibration)
    assert isinstance(m.router.calibration.points[0], CalibrationPoint)
    assert parse_manifest(json.loads(m.to_json())) == m
    del d["router"]["calibration"]
    assert parse_manifest(d).router.calibration is None


def test_build_without_calibration_text_still_builds(tmp_path, monkeypatch):
    import skipgpt.export.calibrate as calibrate

    monkeypatch.setattr(calibrate, "held_out_files", lambda count: ())  # e.g. a Python shipped without .py sources
    _export(tmp_path / "m", calibrate=True)
    man = read_manifest(tmp_path / "m")
    assert man.router.calibration is None and man.integrity


def test_default_skip_rate_sets_the_default_threshold_from_the_calibration(tmp_path):
    from dataclasses import asdict

    from skipgpt.export.calibrate import threshold_for
    from skipgpt.export.deltas import BuildError

    skip = routed_tiny(layers=2, vocab=384, router_std=1.0)
    prov = Provenance(base_name="tiny", base_sha256=None, deltas=[Delta("r", "")], toolkit_version="t",
                      exported_at="2026-01-01T00:00:00Z")
    kw = dict(name="t", tokenizer_json=TOKENIZER, prompts={"a": [40, 41, 42]}, thresholds=[0.5], greedy_steps=2,
              tokenizer_cases=[], provenance=prov, align=64, log=lambda *_: None, gpu_graph=False)
    export_folder(skip, tmp_path / "m", default_skip_rate=0.2, **kw)
    man = read_manifest(tmp_path / "m")
    pts = [asdict(p) for p in man.router.calibration.points]
    assert man.router.threshold_default == pytest.approx(threshold_for(pts, 0.2))
    assert man.router.threshold_default != 0.5
    # what the calibration predicts at that threshold is the rate asked for (inside the calibrated range)
    lo = max((p for p in pts if 0 < p["threshold"] <= man.router.threshold_default), key=lambda p: p["threshold"])
    hi = min((p for p in pts if p["threshold"] >= man.router.threshold_default), key=lambda p: p["threshold"])
    assert lo["skip"] <= 0.2 + 1e-9 and hi["skip"] >= 0.2 - 1e-9
    with pytest.raises(BuildError, match="calibration"):
        export_folder(skip, tmp_path / "n", default_skip_rate=0.2, calibrate=False, **kw)
