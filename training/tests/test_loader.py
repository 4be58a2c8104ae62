"""Base loading: a tiny Llama GGUF (gguf_helpers.py: llama.cpp's tensor names and Q/K permutation, a byte-level
BPE vocabulary) loads through transformers and matches the source model;
bad inputs raise BaseModelError with a message saying what is wrong."""
import json

import numpy as np
import pytest
import torch

from skipgpt.loader import BaseModelError, load_base, resolve_source, save_tokenizer_json, sha256_file
from skipgpt.model import tiny_llama

from gguf_helpers import MERGES, SPECIALS, write_tiny_gguf

@pytest.fixture(scope="module")
def tiny():
    return tiny_llama(vocab=len(SPECIALS) + 256 + len(MERGES))


@pytest.fixture()
def gguf_file(tmp_path, tiny):
    return write_tiny_gguf(tmp_path / "tiny.gguf", tiny)


def test_gguf_loads_and_matches_source(gguf_file, tiny, tmp_path):
    model, tok, info = load_base(gguf_file)
    ids = torch.tensor([[5, 40, 7, 100, 200, 3, 9]])
    with torch.no_grad():
        want, got = tiny(ids).logits, model(ids).logits
    assert torch.allclose(got, want, atol=1e-4), (got - want).abs().max()
    assert info.kind == "gguf" and info.dims["layers"] == 2 and info.dims["vocab"] == tiny.config.vocab_size
    assert info.sha256 == {"tiny.gguf": sha256_file(gguf_file)} and len(info.sha256["tiny.gguf"]) == 64
    assert tok.eos_token == "<|im_end|>"
    text = "the hello"
    assert tok.decode(tok(text)["input_ids"]) == text
    out = save_tokenizer_json(tok, tmp_path / "tok" / "tokenizer.json")
    doc = json.loads(out.read_text())
    assert doc["model"]["type"] == "BPE" and "Ġt" in doc["model"]["vocab"]


def test_hf_folder_loads(tmp_path, tiny, gguf_file):
    _, tok, _ = load_base(gguf_file)
    folder = tmp_path / "hf"
    tiny.save_pretrained(folder)
    tok.save_pretrained(folder)
    model, _, info = load_base(folder)
    assert info.kind == "hf" and info.name == "hf" and "model.safetensors" in info.sha256
    assert torch.equal(model.model.embed_tokens.weight, tiny.model.embed_tokens.weight)


def test_missing_file():
    with pytest.raises(BaseModelError, match="not found"):
        resolve_source("/nonexistent/model.gguf")


def test_random_bytes_gguf(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(BaseModelError, match="not a readable GGUF"):
        load_base(bad)


def test_truncated_gguf(tmp_path, gguf_file):
    data = gguf_file.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(BaseModelError, match="cut.gguf"):
        load_base(cut)


def test_non_llama_gguf(tmp_path, tiny):
    path = write_tiny_gguf(tmp_path / "gpt.gguf", tiny, arch="gpt2")
    with pytest.raises(BaseModelError, match="Llama-family"):
        load_base(path)


def test_non_llama_folder_and_no_weights(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(BaseModelError, match="model_type='gpt2'"):
        load_base(folder)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(BaseModelError, match="no \\*.safetensors"):
        load_base(folder)
    (folder / "config.json").unlink()
    with pytest.raises(BaseModelError, match="no config.json"):
        load_base(folder)


def test_not_a_gguf_file(tmp_path):
    f = tmp_path / "weights.bin"
    f.write_bytes(b"x")
    with pytest.raises(BaseModelError, match="not .gguf"):
        load_base(f)
