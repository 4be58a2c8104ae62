"""Corpus building on a temp folder of fake sources: filters, exact and whitespace dedup, deterministic
content-hash split, EOS-separated uint16 streams, package licences from package.json."""
import json

import numpy as np
from tokenizers import Tokenizer, models, pre_tokenizers

from skipgpt.corpus import SourceFile, build_corpus, discover_node, read_and_dedup, split_of


def byte_tokenizer() -> Tokenizer:
    """Whitespace word-level tokenizer with a fixed vocabulary; enough to count and check tokens."""
    vocab = {"<|endoftext|>": 0, "[UNK]": 1}
    for i in range(300):
        vocab[f"w{i}"] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return tok


def fake_files(root, n=60):
    files = []
    for i in range(n):
        p = root / f"f{i}.py"
        p.write_text(" ".join(f"w{(i * 7 + j) % 300}" for j in range(20 + i)) + "\n")
        files.append(SourceFile(p, f"f{i}.py", "pkg", "MIT", "python"))
    dup = root / "dup.py"
    dup.write_text((root / "f3.py").read_text())  # exact copy
    near = root / "near.py"
    near.write_text("  " + (root / "f4.py").read_text().replace(" ", "\t "))  # same code, other whitespace
    mini = root / "min.py"
    mini.write_text("x" * 5000)
    for p in (dup, near, mini):
        files.append(SourceFile(p, p.name, "pkg", "MIT", "python"))
    return files


def test_dedup_drops_exact_and_whitespace_copies_and_minified(tmp_path):
    kept, stats = read_and_dedup(fake_files(tmp_path))
    assert len(kept) == 60
    assert stats["exact_dup"] == 1 and stats["near_dup"] == 1 and stats["minified"] == 1
    assert {f.rel for f in kept} == {f"f{i}.py" for i in range(60)}  # first occurrence wins


def test_split_is_content_based_and_deterministic(tmp_path):
    kept, _ = read_and_dedup(fake_files(tmp_path))
    splits = [split_of(f.content_id, 100, 100) for f in kept]
    assert splits == [split_of(f.content_id, 100, 100) for f in reversed(kept)][::-1]
    assert {"train", "val", "test"} <= set(splits)  # 60 files at 10%/10% hit every split
    # Same content under another path lands in the same split.
    other = tmp_path / "sub"
    other.mkdir()
    (other / "copy.py").write_text((tmp_path / "f10.py").read_text())
    again, _ = read_and_dedup([SourceFile(other / "copy.py", "copy.py", "p", "MIT", "python")])
    assert again[0].content_id == next(f for f in kept if f.rel == "f10.py").content_id


def test_build_corpus_streams_are_deterministic(tmp_path):
    kept, _ = read_and_dedup(fake_files(tmp_path))
    tok = byte_tokenizer()
    a = build_corpus(tmp_path / "a", kept, tok, 0, max_train_tokens=10**6, min_test_tokens=100)
    b = build_corpus(tmp_path / "b", list(reversed(kept)), tok, 0, max_train_tokens=10**6, min_test_tokens=100)
    for s in ("train", "val", "test"):
        x, y = np.load(tmp_path / "a" / f"{s}.npy"), np.load(tmp_path / "b" / f"{s}.npy")
        assert x.dtype == np.uint16 and np.array_equal(x, y)
        assert a["splits"][s]["tokens"] == len(x) == sum(e["tokens"] for e in a["splits"][s]["entries"])
        assert (x == 0).sum() == a["splits"][s]["files"]  # one EOS after every file
    assert a == b
    assert a["splits"]["test"]["tokens"] >= 100
    total = sum(a["splits"][s]["files"] for s in ("train", "val", "test"))
    assert total == 60


def test_train_cap_leaves_files_unused(tmp_path):
    kept, _ = read_and_dedup(fake_files(tmp_path))
    res = build_corpus(tmp_path / "c", kept, byte_tokenizer(), 0, max_train_tokens=200, min_test_tokens=0)
    assert 200 <= res["splits"]["train"]["tokens"] < 200 + 100
    assert res["unused_train_files"] > 0


def test_node_packages_and_bundle_filters(tmp_path):
    nm = tmp_path / "node_modules"
    pkg = nm / "@scope" / "lib"
    (pkg / "src").mkdir(parents=True)
    (pkg / "dist").mkdir()
    (pkg / "package.json").write_text(json.dumps({"name": "@scope/lib", "version": "1.2.3", "license": "ISC"}))
    (pkg / "src" / "a.ts").write_text("export const a = 1;\n")
    (pkg / "src" / "a.d.ts").write_text("export declare const a: number;\n")
    (pkg / "dist" / "a.min.js").write_text("var a=1;\n")
    (pkg / "dist" / "big.js").write_text("var b = 2;\n" * 30000)  # > 200 KB bundle
    (pkg / "dist" / "small.js").write_text("var c = 3;\n")
    found = {f.rel: f for f in discover_node(nm)}
    assert set(found) == {"node_modules/@scope/lib/src/a.ts", "node_modules/@scope/lib/dist/small.js"}
    f = found["node_modules/@scope/lib/src/a.ts"]
    assert (f.package, f.licence, f.lang) == ("@scope/lib@1.2.3", "ISC", "typescript")
