"""Carry packs for a lent GPU machine that takes at most 64 MiB of files per call: `pack` writes a tar of the base
GGUF, a corpus slice and the pure-Python `gguf` package as parts of a fixed size plus a manifest (sha256 per part);
`unpack` checks the parts and reassembles them on the other side. Used by gpu_run.py (scripts/gpu_train.py).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
from pathlib import Path

MIB = 1 << 20


class _PartWriter:
    """A write-only stream that spreads its bytes over out/part-1, part-2, ... of at most `limit` bytes each."""

    def __init__(self, out: Path, limit: int):
        self.out, self.limit, self.parts, self._f, self._n = out, limit, [], None, 0

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            if self._f is None or self._n == self.limit:
                self._next()
            k = min(len(view), self.limit - self._n)
            self._f.write(view[:k])
            self._n += k
            view = view[k:]
        return len(data)

    def _next(self) -> None:
        if self._f:
            self._f.close()
        path = self.out / f"part-{len(self.parts) + 1}"
        self.parts.append(path)
        self._f, self._n = open(path, "wb"), 0

    def close(self) -> None:
        if self._f:
            self._f.close()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            h.update(chunk)
    return h.hexdigest()


def pack(base: Path, corpus: Path, out: Path, *, parts: int = 2, part_mib: float = 60.0,
         train_tokens: int | None = None, pylib: list[Path] = ()) -> dict:
    """Write out/part-N (≤ part_mib MiB each) holding a tar of base.gguf, corpus/{val,train}.npy and each folder of
    `pylib` as pylib/<name>/ (a package and its .dist-info: transformers reads the version from the metadata), plus
    out/manifest.json. The train slice is the first `train_tokens` tokens, or as many as fill `parts` parts."""
    import io

    import numpy as np

    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("part-*"):
        old.unlink()
    limit = int(part_mib * MIB)
    train = np.load(corpus / "train.npy", mmap_mode="r")
    files = [(base, "base.gguf"), (corpus / "val.npy", "corpus/val.npy")]
    for lib in pylib:
        files += [(f, f"pylib/{lib.name}/" + f.relative_to(lib).as_posix()) for f in sorted(lib.rglob("*"))
                  if f.is_file() and "__pycache__" not in f.parts and "scripts" not in f.relative_to(lib).parts]
    # Per file: ustar header + padding + a pax header (float mtimes) ≤ 4 KiB; then the train header and end blocks.
    fixed = sum(f.stat().st_size + 4096 for f, _ in files) + 16 * 1024
    room = (parts * limit - fixed) // 2
    n = min(len(train), train_tokens if train_tokens is not None else room)
    if n < 1024:
        raise ValueError(f"only {n} train tokens fit in {parts} parts of {part_mib} MiB; raise --parts")
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(train[:n]))
    writer = _PartWriter(out, limit)
    with tarfile.open(fileobj=writer, mode="w|") as tar:
        for path, arc in files:
            tar.add(str(path), arcname=arc, recursive=False)
        info = tarfile.TarInfo("corpus/train.npy")
        info.size = buf.tell()
        buf.seek(0)
        tar.addfile(info, buf)
    writer.close()
    manifest = {"format": "skipgpt-gpu-pack", "train_tokens": int(n),
                "parts": [{"name": p.name, "bytes": p.stat().st_size, "sha256": _sha256(p)} for p in writer.parts]}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


class _Concat:
    """Read-only stream over several files in order (the parts of a pack)."""

    def __init__(self, paths: list[Path]):
        self.paths, self._f = list(paths), None

    def read(self, size: int = -1) -> bytes:
        chunks = []
        while size != 0 and (self._f or self.paths):
            if self._f is None:
                self._f = open(self.paths.pop(0), "rb")
            data = self._f.read(size if size > 0 else -1)
            if not data or size < 0:
                chunks.append(data)
                self._f.close()
                self._f = None
                continue
            chunks.append(data)
            size -= len(data)
        return b"".join(chunks)


def unpack(pack_dir: Path) -> Path:
    """Check every part against manifest.json and extract the tar into pack_dir/unpacked (once). Returns it."""
    dest = pack_dir / "unpacked"
    manifest = json.loads((pack_dir / "manifest.json").read_text())
    stamp = hashlib.sha256(json.dumps(manifest["parts"]).encode()).hexdigest()
    if (dest / ".done").is_file() and (dest / ".done").read_text() == stamp:
        return dest
    paths = []
    for part in manifest["parts"]:
        p = pack_dir / part["name"]
        if not p.is_file():
            raise FileNotFoundError(f"{p} is missing: carry every part (one per call, back to back; see "
                                    f"docs/TRAINING.md) before the run")
        if p.stat().st_size != part["bytes"] or _sha256(p) != part["sha256"]:
            raise ValueError(f"{p} does not match manifest.json (size or sha256): carry it again")
        paths.append(p)
    tmp = pack_dir / f"unpacked.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(fileobj=_Concat(paths), mode="r|") as tar:
        tar.extractall(tmp, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    (tmp / ".done").write_text(stamp)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.replace(dest)
    return dest
