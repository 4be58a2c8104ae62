"""manifest.json "integrity": size, sha256 and a sampled sha256 of each file of a model folder (docs/MANIFEST.md).

The engine checks size + sample_sha256 at every load (cheap: at most 1 MiB read) to catch a truncated or swapped
weights file; the full sha256 is for humans and offline checks. The sample definition is shared with the TypeScript
runtime byte for byte — change both or neither.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

WHOLE_FILE_LIMIT = 1 << 20  # files up to 1 MiB are hashed whole
SAMPLE_BLOCK = 65536
SAMPLE_BLOCKS = 16


def sample_offsets(size: int) -> list[int]:
    """Offsets of the sampled blocks of a file larger than WHOLE_FILE_LIMIT: evenly spread, first at 0, last
    ending at the end of the file (integer floor, as the TypeScript reader computes it)."""
    span = size - SAMPLE_BLOCK
    return [i * span // (SAMPLE_BLOCKS - 1) for i in range(SAMPLE_BLOCKS)]


def sample_sha256(path: str | Path) -> str:
    """sha256 of the whole file if size <= 1 MiB, else of the concatenation of 16 blocks of 64 KiB at
    sample_offsets(size)."""
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256()
    with open(path, "rb") as f:
        if size <= WHOLE_FILE_LIMIT:
            h.update(f.read())
        else:
            for off in sample_offsets(size):
                f.seek(off)
                h.update(f.read(SAMPLE_BLOCK))
    return h.hexdigest()


def full_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_integrity(path: str | Path) -> dict:
    return {"size": Path(path).stat().st_size, "sha256": full_sha256(path), "sample_sha256": sample_sha256(path)}


def folder_integrity(folder: str | Path, file_names: list[str]) -> dict[str, dict]:
    """{relative file name: file_integrity} for the files a manifest names (its `files` values)."""
    return {name: file_integrity(Path(folder) / name) for name in file_names}
