"""manifest.json writer/reader round trip and the strict reader's refusals; the committed tiny fixture."""
import json
from pathlib import Path

import pytest

from skipgpt.export.manifest import (Delta, Dims, Manifest, ManifestError, Provenance, SpecialTokens,
                                     parse_manifest, read_manifest)

FIXTURE = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "tiny"


def sample() -> Manifest:
    return Manifest(
        name="m", dims=Dims(layers=2, hidden=64, heads=4, kv_heads=2, head_dim=16, intermediate=128, vocab=300,
                            max_positions=512, rope_theta=10000.0, rms_eps=1e-6),
        special_tokens=SpecialTokens(bos_id=1, bos="<s>", eos_id=2, eos="</s>", pad_id=None, pad=None,
                                     code={"<filename>": 6}),
        provenance=Provenance(base_name="b", base_sha256="ab" * 32, deltas=[Delta("d/routers.safetensors", "cd")],
                              toolkit_version="0.1.0", exported_at="2026-01-01T00:00:00Z"))


def test_round_trip(tmp_path):
    m = sample()
    m.write(tmp_path)
    assert read_manifest(tmp_path) == m
    text = (tmp_path / "manifest.json").read_text()
    assert text.index('"format"') < text.index('"name"')  # format fields lead the file


def test_unknown_extra_keys_are_ignored():
    d = json.loads(sample().to_json())
    d["future_optional"] = {"x": 1}
    d["dims"]["future_dim"] = 3
    assert parse_manifest(d) == sample()


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format_version=2), "format_version 2 is not supported"),
    (lambda d: d.update(format="other"), "expected 'skipgpt-onnx'"),
    (lambda d: d["dims"].pop("vocab"), "dims.vocab: missing"),
    (lambda d: d.pop("io"), "manifest.io: missing"),
    (lambda d: d["dims"].update(layers=2.5), "dims.layers: expected an integer"),
    (lambda d: d["dims"].update(layers=True), "dims.layers: expected an integer"),
    (lambda d: d["special_tokens"].update(eos_id=None), "special_tokens.eos_id: expected an integer"),
    (lambda d: d["io"].update(logits=3), "io.logits: expected a string"),
    (lambda d: d["dims"].update(kv_heads=3), "inconsistent heads"),
    (lambda d: d.update(dtype="float16"), "dtype"),
    (lambda d: d["quantization"].update(method="gptq"), "quantization.method"),
])
def test_reader_rejects(change, message):
    d = json.loads(sample().to_json())
    change(d)
    with pytest.raises(ManifestError, match=message):
        parse_manifest(d)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ManifestError, match="not found"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{nope")
    with pytest.raises(ManifestError, match="not valid JSON"):
        read_manifest(tmp_path)


def test_committed_fixture_reads_and_matches_its_parity():
    from skipgpt.export.parity import check_parity

    m = read_manifest(FIXTURE)
    assert m.dims.layers == 3 and m.special_tokens.eos_id == 2
    for f in (m.files.model, m.files.weights, m.files.tokenizer, m.files.parity):
        assert (FIXTURE / f).is_file()
    assert sum(p.stat().st_size for p in FIXTURE.iterdir()) < 1_000_000
    assert check_parity(FIXTURE) == []


def test_fixture_tokenizer_matches_its_cases():
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(FIXTURE / "tokenizer.json"))
    doc = json.loads((FIXTURE / "parity.json").read_text())
    for c in doc["tokenizer_cases"]:
        assert tok.encode(c["text"]).ids == c["ids"]
    assert tok.token_to_id("<filename>") == 6 and tok.get_vocab_size() == 384
