"""Builds the code corpus (`python -m skipgpt corpus`): real Python / TypeScript / JavaScript that installed
packages ship, deduplicated, split by content hash into train/val/test, tokenized into uint16 .npy streams.

Output folder: train.npy, val.npy, test.npy (files joined with the end-of-text token), tokenizer.json, manifest.json.
"""
from __future__ import annotations

import hashlib
import json
import re
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_FILE_BYTES = 1_000_000  # larger sources are generated tables, not code people write
MAX_BUNDLE_BYTES = 200_000  # dist/ bundles above this are concatenated builds
MAX_LINE_CHARS = 1000  # a longer line means minified or generated code
JS_EXTS = (".ts", ".tsx", ".mts", ".cts", ".js", ".mjs", ".cjs")
SPLITS = ("train", "val", "test")


@dataclass
class SourceFile:
    path: Path  # where it was read
    rel: str  # path shown in the manifest (relative to its root)
    package: str
    licence: str
    lang: str
    text: str = ""
    content_id: str = ""  # sha256 of whitespace-normalised text: the dedup and split key


# ---------------------------------------------------------------- discovery (which files, which package/licence)

def _skip_js(path: Path, size: int) -> bool:
    name = path.name
    if name.endswith((".min.js", ".min.mjs", ".bundle.js")) or name.endswith(".d.ts"):
        return True  # .d.ts are declarations, not code; prefer real .ts/.js sources
    parts = set(path.parts)
    return size > MAX_BUNDLE_BYTES and bool(parts & {"dist", "build", "bundle", "bundles", "umd", "browser"})


def _package_json_info(pkg_dir: Path, cache: dict) -> tuple[str, str]:
    if pkg_dir in cache:
        return cache[pkg_dir]
    info = ("?", "UNKNOWN")
    try:
        meta = json.loads((pkg_dir / "package.json").read_text(encoding="utf-8"))
        lic = meta.get("license") or meta.get("licenses") or "UNKNOWN"
        if isinstance(lic, dict):
            lic = lic.get("type", "UNKNOWN")
        elif isinstance(lic, list):
            lic = " OR ".join(str(x.get("type", x) if isinstance(x, dict) else x) for x in lic)
        info = (f"{meta.get('name', pkg_dir.name)}@{meta.get('version', '?')}", str(lic))
    except (OSError, ValueError):
        pass
    cache[pkg_dir] = info
    return info


def discover_node(root: Path) -> list[SourceFile]:
    """TS/JS from node_modules; package and licence from the package's own package.json."""
    out, cache = [], {}
    if not root.is_dir():
        return out
    for path in sorted(root.rglob("*")):
        if path.suffix not in JS_EXTS or not path.is_file():
            continue
        size = path.stat().st_size
        if size == 0 or size > MAX_FILE_BYTES or _skip_js(path, size):
            continue
        rel = path.relative_to(root)
        # Package dir = node_modules/<name> or node_modules/@scope/<name> (innermost node_modules wins).
        parts = rel.parts
        idx = max(i for i, p in enumerate(("node_modules",) + parts) if p == "node_modules")
        pkg_parts = parts[idx:idx + (2 if parts[idx].startswith("@") else 1)] if idx < len(parts) else ()
        pkg_dir = root.joinpath(*parts[:idx], *pkg_parts)
        package, licence = _package_json_info(pkg_dir, cache)
        out.append(SourceFile(path, f"node_modules/{rel.as_posix()}", package, licence, "typescript"
                              if path.suffix in (".ts", ".tsx", ".mts", ".cts") else "javascript"))
    return out


def _dist_licence(dist) -> str:
    md = dist.metadata
    expr = md.get("License-Expression")
    if expr:
        return expr
    classifiers = [c.split("::")[-1].strip() for c in md.get_all("Classifier") or [] if c.startswith("License ::")]
    if classifiers:
        return "; ".join(classifiers)
    lic = (md.get("License") or "").strip()
    # Some packages paste the whole licence text into License; keep its first line.
    return lic.splitlines()[0][:100] if lic else "UNKNOWN"


def discover_site_packages(site: Path) -> list[SourceFile]:
    """Python files listed in each installed distribution's RECORD, with that distribution's declared licence."""
    from importlib.metadata import distributions

    out = []
    for dist in sorted(distributions(path=[str(site)]), key=lambda d: d.metadata["Name"] or ""):
        name = f"{dist.metadata['Name']}=={dist.version}"
        licence = _dist_licence(dist)
        for f in sorted(dist.files or [], key=str):
            if f.suffix != ".py" or str(f).startswith(".."):
                continue
            path = site / f
            if path.is_file() and 0 < path.stat().st_size <= MAX_FILE_BYTES:
                out.append(SourceFile(path, f"site-packages/{f.as_posix()}", name, licence, "python"))
    return out


def discover_stdlib() -> list[SourceFile]:
    lib = Path(sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})["stdlib"])
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    out = []
    for path in sorted(lib.rglob("*.py")):
        rel = path.relative_to(lib)
        if rel.parts and rel.parts[0] in ("site-packages", "dist-packages"):
            continue
        if path.is_file() and 0 < path.stat().st_size <= MAX_FILE_BYTES:
            out.append(SourceFile(path, f"stdlib/{rel.as_posix()}", f"cpython-stdlib-{ver}", "PSF-2.0", "python"))
    return out


# ---------------------------------------------------------------- dedup and split

_WS = re.compile(r"\s+")


def read_and_dedup(files: list[SourceFile], progress=None) -> tuple[list[SourceFile], dict[str, int]]:
    """Read text, drop undecodable / minified files, exact and whitespace-normalised duplicates.
    The first occurrence in input order wins, so the result is deterministic for a given input list."""
    seen_exact, seen_norm, kept = set(), set(), []
    stats = {"read": 0, "binary_or_undecodable": 0, "minified": 0, "exact_dup": 0, "near_dup": 0}
    for sf in progress(files) if progress else files:
        try:
            raw = sf.path.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            stats["binary_or_undecodable"] += 1
            continue
        stats["read"] += 1
        if "\x00" in text:
            stats["binary_or_undecodable"] += 1
            continue
        if max((len(line) for line in text.splitlines()), default=0) > MAX_LINE_CHARS:
            stats["minified"] += 1
            continue
        exact = hashlib.sha256(raw).hexdigest()
        if exact in seen_exact:
            stats["exact_dup"] += 1
            continue
        seen_exact.add(exact)
        norm = hashlib.sha256(_WS.sub(" ", text).strip().encode()).hexdigest()
        if norm in seen_norm:
            stats["near_dup"] += 1
            continue
        seen_norm.add(norm)
        sf.text, sf.content_id = text, norm
        kept.append(sf)
    return kept, stats


def split_of(content_id: str, val_per_mille: int = 10, test_per_mille: int = 10) -> str:
    """Split from the content hash only: the same file lands in the same split wherever it is installed."""
    bucket = int(content_id[:8], 16) % 1000
    if bucket < test_per_mille:
        return "test"
    if bucket < test_per_mille + val_per_mille:
        return "val"
    return "train"


# ---------------------------------------------------------------- tokenize and write

def build_corpus(out: Path, files: list[SourceFile], tokenizer, eos_id: int, *, max_train_tokens: int,
                 min_test_tokens: int, progress=None) -> dict:
    """Tokenize kept files (sorted by content id, so order is deterministic) into the three streams."""
    files = sorted(files, key=lambda f: f.content_id)
    by_split: dict[str, list[SourceFile]] = {s: [] for s in SPLITS}
    for f in files:
        by_split[split_of(f.content_id)].append(f)
    streams: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    entries: dict[str, list[dict]] = {s: [] for s in SPLITS}
    counts = {s: 0 for s in SPLITS}

    def add(split: str, f: SourceFile) -> None:
        ids = tokenizer.encode(f.text).ids + [eos_id]  # EOS between files so documents do not run together
        streams[split].append(np.asarray(ids, dtype=np.uint16))
        entries[split].append({"id": f.content_id[:16], "path": f.rel, "package": f.package,
                               "licence": f.licence, "lang": f.lang, "tokens": len(ids)})
        counts[split] += len(ids)

    todo = by_split["test"] + by_split["val"] + by_split["train"]
    bar = progress(total=len(todo), desc="tokenize") if progress else None
    for split in ("test", "val"):
        for f in by_split[split]:
            add(split, f)
            bar and bar.update()
    spare = []
    for f in by_split["train"]:
        # Too few test tokens (tiny inputs): move train files (content-id order, so still deterministic).
        if counts["test"] < min_test_tokens:
            add("test", f)
        elif counts["train"] < max_train_tokens:
            add("train", f)
        else:
            spare.append(f)
        bar and bar.update()
    bar and bar.close()
    out.mkdir(parents=True, exist_ok=True)
    for s in SPLITS:
        arr = np.concatenate(streams[s]) if streams[s] else np.zeros(0, np.uint16)
        np.save(out / f"{s}.npy", arr)
    return {"splits": {s: {"files": len(entries[s]), "tokens": counts[s], "entries": entries[s]} for s in SPLITS},
            "unused_train_files": len(spare), "eos_id": eos_id}


# ---------------------------------------------------------------- CLI

def register(sub) -> None:
    p = sub.add_parser("corpus", help="build the code corpus (train/val/test token streams)")
    p.add_argument("--out", default="../data/corpus", help="output folder (gitignored data/)")
    p.add_argument("--base", default="default", help="base model whose tokenizer is used")
    p.add_argument("--node-modules", default=str(Path(__file__).resolve().parents[2] / "node_modules"))
    p.add_argument("--max-train-tokens", type=int, default=30_000_000)
    p.add_argument("--min-test-tokens", type=int, default=200_000)
    p.set_defaults(func=run)


def run(args) -> None:
    from tqdm import tqdm

    from .loader import load_tokenizer

    tok, _ = load_tokenizer(args.base)
    backend = tok.backend_tokenizer
    eos = "<|endoftext|>" if backend.token_to_id("<|endoftext|>") is not None else tok.eos_token
    eos_id = backend.token_to_id(eos)
    site = Path(sysconfig.get_paths()["purelib"])
    files = discover_stdlib() + discover_site_packages(site) + discover_node(Path(args.node_modules))
    print(f"found {len(files)} candidate files")
    kept, stats = read_and_dedup(files, progress=lambda it: tqdm(it, desc="read+dedup", unit="file"))
    print(f"kept {len(kept)} files; dropped: {stats}")
    out = Path(args.out)
    summary = build_corpus(out, kept, backend, eos_id, max_train_tokens=args.max_train_tokens,
                           min_test_tokens=args.min_test_tokens, progress=lambda **kw: tqdm(unit="file", **kw))
    from .loader import save_tokenizer_json

    save_tokenizer_json(tok, out / "tokenizer.json")
    manifest = {"format": "skipgpt-corpus", "version": 1, "dtype": "uint16", "eos_token": eos, **summary,
                "filters": {"max_file_bytes": MAX_FILE_BYTES, "max_bundle_bytes": MAX_BUNDLE_BYTES,
                            "max_line_chars": MAX_LINE_CHARS}, "dropped": stats}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    for s in SPLITS:
        print(f"{s}: {summary['splits'][s]['files']} files, {summary['splits'][s]['tokens']:,} tokens")
