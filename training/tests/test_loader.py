"""Base loading: a tiny Llama GGUF written here with the gguf package (llama.cpp's tensor names and Q/K
permutation, a byte-level BPE vocabulary) loads through transformers and matches the source model;
bad inputs raise BaseModelError with a message saying what is wrong."""
import json

import gguf
import numpy as np
import pytest
import torch

from skipgpt.loader import BaseModelError, load_base, resolve_source, save_tokenizer_json, sha256_file
from skipgpt.model import tiny_llama

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = [("Ġ", "t"), ("h", "e"), ("l", "l")]


def byte_chars() -> list[str]:
    """GPT-2 byte-to-unicode table: the 256 printable stand-ins byte-level BPE vocabularies use."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    table = dict(zip(bs, cs))
    return [chr(table[b]) for b in range(256)]


def permute(w: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's convert script reorders Q/K rows for its RoPE layout; transformers undoes it on load."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_tiny_gguf(path, model, arch="llama"):
    cfg = model.config
    tokens = SPECIALS + byte_chars() + [a + b for a, b in MERGES]
    assert len(tokens) == cfg.vocab_size
    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    w.add_rope_freq_base(cfg.rope_parameters["rope_theta"] if hasattr(cfg, "rope_parameters") else cfg.rope_theta)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_vocab_size(cfg.vocab_size)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types([3] * len(SPECIALS) + [1] * (len(tokens) - len(SPECIALS)))
    w.add_token_merges([f"{a} {b}" for a, b in MERGES])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(False)
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    w.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"])
    w.add_tensor("output_norm.weight", sd["model.norm.weight"])
    names = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm", "self_attn.q_proj": "attn_q",
             "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for i in range(cfg.num_hidden_layers):
        for hf, gg in names.items():
            t = sd[f"model.layers.{i}.{hf}.weight"]
            if gg == "attn_q":
                t = permute(t, cfg.num_attention_heads)
            elif gg == "attn_k":
                t = permute(t, cfg.num_key_value_heads)
            w.add_tensor(f"blk.{i}.{gg}.weight", np.ascontiguousarray(t))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture(autouse=True)
def hash_cache(tmp_path, monkeypatch):
    """Keep the sha256 cache of temp files out of the user's ~/.cache."""
    import skipgpt.loader

    monkeypatch.setattr(skipgpt.loader, "HASH_CACHE", tmp_path / "sha256.json")


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
