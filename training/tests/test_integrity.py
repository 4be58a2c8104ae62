"""manifest.json "integrity": the sampled hash on both branches (whole file <= 1 MiB, 16 blocks of 64 KiB above),
a known-answer vector the TypeScript reader can share, the manifest round trip, and the committed tiny fixture."""
import hashlib
import json
from pathlib import Path

import pytest

from skipgpt.export.integrity import file_integrity, sample_offsets, sample_sha256
from skipgpt.export.manifest import FileIntegrity, Manifest, parse_manifest, read_manifest

TINY = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "tiny"


def pattern(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))  # period 251: every 64 KiB block differs from its neighbours


@pytest.mark.parametrize("size", [0, 1000, 1 << 20])
def test_small_files_hash_whole(tmp_path, size):
    data = pattern(size)
    (tmp_path / "f").write_bytes(data)
    assert sample_sha256(tmp_path / "f") == hashlib.sha256(data).hexdigest()
    assert file_integrity(tmp_path / "f") == {"size": size, "sha256": hashlib.sha256(data).hexdigest(),
                                              "sample_sha256": hashlib.sha256(data).hexdigest()}


@pytest.mark.parametrize("size", [(1 << 20) + 1, 3 * (1 << 20) + 12345])
def test_large_files_hash_16_blocks(tmp_path, size):
    data = pattern(size)
    (tmp_path / "f").write_bytes(data)
    # the definition written out independently: block i at floor(i * (size - 65536) / 15)
    offs = [(i * (size - 65536)) // 15 for i in range(16)]
    assert sample_offsets(size) == offs and offs[0] == 0 and offs[-1] + 65536 == size
    want = hashlib.sha256(b"".join(data[o:o + 65536] for o in offs)).hexdigest()
    assert sample_sha256(tmp_path / "f") == want != hashlib.sha256(data).hexdigest()
    changed = bytearray(data)
    if size > 16 * 65536 + 15:  # gaps between blocks: a change there is not seen by the sample (by design)
        mid = offs[1] + 65536 + 10
        assert mid < offs[2]
        changed[mid] ^= 1
        (tmp_path / "f").write_bytes(bytes(changed))
        assert sample_sha256(tmp_path / "f") == want
    changed[offs[2] + 5] ^= 1  # one inside a sampled block is
    (tmp_path / "f").write_bytes(bytes(changed))
    assert sample_sha256(tmp_path / "f") != want


def test_known_answer_vector(tmp_path):
    # Shared with the TypeScript reader's test: pattern(3 MiB + 12345), i.e. byte k = k % 251.
    (tmp_path / "f").write_bytes(pattern(3 * (1 << 20) + 12345))
    assert sample_sha256(tmp_path / "f") == "ea58bfee48173ec55e6a9c0fdda12d28c117b7afd955a9b68e673e70894717cb"


def test_manifest_round_trip_and_absent_when_unset():
    m = read_manifest(TINY)
    m.integrity = None
    assert "integrity" not in json.loads(m.to_json())
    m.integrity = {"model.onnx": FileIntegrity(size=3, sha256="a" * 64, sample_sha256="b" * 64)}
    doc = json.loads(m.to_json())
    assert doc["integrity"] == {"model.onnx": {"size": 3, "sha256": "a" * 64, "sample_sha256": "b" * 64}}
    assert doc["format_version"] == 1 and parse_manifest(doc).integrity == m.integrity
    doc["integrity"]["model.onnx"]["size"] = "3"
    with pytest.raises(ValueError, match=r"integrity.model.onnx.size: expected an integer"):
        parse_manifest(doc)


def test_committed_fixture_records_every_file():
    m = read_manifest(TINY)
    assert isinstance(m, Manifest) and m.integrity is not None
    assert sorted(m.integrity) == sorted(m.files.names())
    for name, rec in m.integrity.items():
        assert FileIntegrity(**file_integrity(TINY / name)) == rec, name
