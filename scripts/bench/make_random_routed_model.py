"""Benchmark stand-in: the real SmolLM2-135M base (or, with --random-base, random weights of the same shape and the
tiny fixture's tokenizer, for machines without the GGUF) with *random* routers whose p_execute is spread per token
and layer, exported exactly like a built model, so a threshold sweep gives any skip fraction. Speed does not depend
on weight or router quality; quality figures never come from this model.
Run: .venv/bin/python scripts/bench/make_random_routed_model.py OUT_DIR [--std 0.05] [--random-base]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "training"))
from skipgpt.export.build import REAL_PROMPTS, export_folder, special_tokens_from  # noqa: E402
from skipgpt.export.manifest import Delta, Provenance  # noqa: E402
from skipgpt.loader import load_base, save_tokenizer_json  # noqa: E402
from skipgpt.model import SkipLlama  # noqa: E402


def random_smollm2(seed: int):
    """Random weights in SmolLM2-135M's shape; the tokenizer is the tiny fixture's (its ids fit any vocab)."""
    from types import SimpleNamespace

    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                      num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
                      tie_word_embeddings=True, rope_theta=100000.0, rms_norm_eps=1e-5)
    tok_path = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "tiny" / "tokenizer.json"
    tok = PreTrainedTokenizerFast(tokenizer_file=str(tok_path), bos_token="<|im_start|>", eos_token="<|im_end|>",
                                  pad_token="<|im_end|>")
    return LlamaForCausalLM(cfg).eval(), tok, SimpleNamespace(name="random-smollm2-135m-shape")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--base", default="default")
    ap.add_argument("--std", type=float, default=0.05, help="router weight std (spread of p_execute)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--random-base", action="store_true", help="SmolLM2-135M-shaped random weights (no GGUF needed)")
    a = ap.parse_args()
    if a.random_base:
        model, tok, info = random_smollm2(a.seed)
    else:
        model, tok, info = load_base(a.base)
    skip = SkipLlama(model).eval()
    g = torch.Generator().manual_seed(a.seed)
    with torch.no_grad():
        for r in skip.routers:
            for lin in (r.attn, r.mlp):
                lin.weight.normal_(0, a.std, generator=g)
                lin.bias.copy_(torch.tensor([0.5, -0.5]))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.out.parent / f".{a.out.name}.tok"
    tmp.mkdir(exist_ok=True)
    tok_json = save_tokenizer_json(tok, tmp / "tokenizer.json")
    enc = lambda t: tok(t, add_special_tokens=False)["input_ids"]  # noqa: E731
    prov = Provenance(base_name=info.name, base_sha256=None, deltas=[Delta("random-routers(bench)", "")],
                      toolkit_version="", exported_at="")
    export_folder(skip, a.out, name=a.out.name, tokenizer_json=tok_json,
                  prompts={"py_fib": enc(REAL_PROMPTS["py_fib"])}, thresholds=[0.0], greedy_steps=4,
                  tokenizer_cases=[], provenance=prov,
                  special=special_tokens_from(tok_json, tok.bos_token, tok.eos_token, tok.pad_token),
                  logits_vocab=32, verify=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
