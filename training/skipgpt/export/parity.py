"""parity.json: reference outputs written by PyTorch (SkipLlama, full recompute) that the ONNX graph and the
TypeScript engine must reproduce (schema: docs/MANIFEST.md). Also the PyTorch K/V reference and an ORT checker.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..model import SkipLlama

PARITY_FORMAT, PARITY_VERSION = "skipgpt-parity", 1


@torch.no_grad()
def reference(skip: SkipLlama, ids: list[int], threshold: float):
    """Logits [S, V], p_execute [S, L, 2], decisions [S, L, 2] of SkipLlama (hard mode) for one sequence."""
    out = skip(torch.tensor([ids]), mode="hard", threshold=threshold)
    return out.logits[0].float().numpy(), out.probs[0].float().numpy(), out.gates[0].numpy().astype(np.int8)


@torch.no_grad()
def reference_kv(skip: SkipLlama, ids: list[int], threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """RoPE'd keys and values [L, KVH, S, D] that SkipLlama computes for every token (skipped attention too)."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    llama = skip._llama()
    cfg = llama.config
    D = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    caught: dict[tuple[int, str], torch.Tensor] = {}
    hooks = []
    for i, layer in enumerate(llama.model.layers):
        for name in ("k_proj", "v_proj"):
            mod = getattr(layer.self_attn, name)
            hooks.append(mod.register_forward_hook(lambda m, a, o, i=i, name=name: caught.__setitem__((i, name), o)))
    try:
        skip(torch.tensor([ids]), mode="hard", threshold=threshold)
    finally:
        for h in hooks:
            h.remove()
    S = len(ids)
    pos = torch.arange(S).unsqueeze(0)
    x = torch.zeros(1, S, cfg.hidden_size)
    cos, sin = llama.model.rotary_emb(x, position_ids=pos)
    keys, values = [], []
    for i in range(cfg.num_hidden_layers):
        k = caught[(i, "k_proj")].view(1, S, -1, D).transpose(1, 2)  # [1, KVH, S, D]
        v = caught[(i, "v_proj")].view(1, S, -1, D).transpose(1, 2)
        k, _ = apply_rotary_pos_emb(k, k, cos, sin)
        keys.append(k[0].float().numpy())
        values.append(v[0].float().numpy())
    return np.stack(keys), np.stack(values)


def _top(x: np.ndarray, k: int) -> dict:
    idx = np.argsort(-x, kind="stable")[:k]
    return {"ids": [int(i) for i in idx], "values": [float(x[i]) for i in idx]}


@torch.no_grad()
def greedy_reference(skip: SkipLlama, prompt: list[int], steps: int, threshold: float, propose=None):
    """PyTorch's greedy continuation as full recompute defines it: token i = argmax of the logits at the position
    before it. Because the model is causal, one forward over prompt + continuation checks every step at once, so
    a proposal (e.g. from the ONNX model with its cache) is verified in one pass; at the first disagreement
    PyTorch's token is kept and the rest re-proposed. Without `propose` this is plain token-by-token recompute.
    Returns (tokens, logits [S+steps, V], probs [S+steps, L, 2]) of the final forward."""
    S = len(prompt)
    toks: list[int] = []
    while True:
        guess = list(propose(prompt + toks, steps - len(toks), threshold)) if propose and len(toks) < steps else []
        seq = prompt + toks + guess
        logits, probs, _ = reference(skip, seq, threshold)
        pred = logits[S - 1: S - 1 + steps].argmax(-1)
        n_ok = len(toks)
        while n_ok < len(seq) - S and int(pred[n_ok]) == seq[S + n_ok]:
            n_ok += 1
        toks = seq[S:S + n_ok]
        if len(toks) >= steps:
            return toks[:steps], logits, probs
        toks.append(int(pred[len(toks)]))  # PyTorch's token at the first disagreement (or the next step)
        if len(toks) == steps:
            logits, probs, _ = reference(skip, prompt + toks, threshold)
            return toks, logits, probs


@torch.no_grad()
def make_case(skip: SkipLlama, name: str, prompt: list[int], threshold: float, greedy_steps: int,
              logits_vocab: int, full_last_logits: bool, propose=None) -> dict:
    logits, probs, dec = reference(skip, prompt, threshold)
    S = len(prompt)
    toks, seq_logits, all_probs = greedy_reference(skip, prompt, greedy_steps, threshold, propose)
    steps = np.sort(seq_logits[S - 1: S - 1 + len(toks)], axis=-1)
    gaps = (steps[:, -1] - steps[:, -2]).tolist()
    # Decision margin over every position the engine feeds (prompt and greedy tokens): a margin below the
    # engine's numeric error means a decision may legitimately flip there.
    margin = float(np.abs(all_probs - threshold).min()) if threshold > 0 else None
    case = {
        "name": name, "prompt_ids": [int(t) for t in prompt], "threshold": float(threshold),
        "logits_vocab": logits_vocab,
        "logits": np.round(logits[:, :logits_vocab], 6).tolist(),
        "last_logits_top": _top(logits[-1], 10),
        "last_logits": np.round(logits[-1], 6).tolist() if full_last_logits else None,
        "router_probs": np.round(probs, 7).tolist(),
        "decisions": dec.tolist(),
        "executed_fraction": float(dec.mean()),
        "min_prob_margin": margin,
        "greedy": {"ids": toks, "min_logit_gap": min(gaps) if gaps else None},
    }
    return case


def write_parity(skip: SkipLlama, path: str | Path, model_name: str, prompts: dict[str, list[int]],
                 thresholds: list[float], greedy_steps: int, tokenizer_cases: list[dict],
                 logits_vocab: int = 16, progress=None, propose=None) -> dict:
    """propose(prefix, n, threshold) -> n token ids: optional fast greedy guesses (verified by PyTorch)."""
    full = skip.config.vocab_size <= 4096
    cases = []
    for pname, ids in prompts.items():
        for t in thresholds:
            cases.append(make_case(skip, f"{pname}@{t:g}", ids, t, greedy_steps, logits_vocab, full, propose))
            if progress:
                progress(cases[-1]["name"])
    # logits_abs: float32 noise, not a budget for mistakes. At an early position carrying SmolLM2's massive
    # activations PyTorch float32 itself is 1.2e-3 from float64 (and ONNX 2.9e-3 from PyTorch) with the
    # long-lora3 deltas; elsewhere both stay near 5e-5 (docs/MANIFEST.md). Decisions and greedy tokens stay exact.
    doc = {"format": PARITY_FORMAT, "format_version": PARITY_VERSION, "model": model_name,
           "tolerance": {"logits_abs": 5e-3, "router_probs_abs": 1e-4},
           "tokenizer_cases": tokenizer_cases, "cases": cases}
    Path(path).write_text(json.dumps(doc, separators=(",", ":")) + "\n", encoding="utf-8")
    return doc


def check_parity(folder: str | Path, threads: int = 2) -> list[str]:
    """Run the ONNX model of `folder` against its parity.json like the engine would (prefill, then greedy decode
    with a cache); returns a list of mismatch descriptions (empty = parity holds)."""
    from .manifest import read_manifest
    from .ort_runner import OrtModel, make_session

    folder = Path(folder)
    man = read_manifest(folder)
    doc = json.loads((folder / man.files.parity).read_text(encoding="utf-8"))
    tol = doc["tolerance"]
    model = OrtModel(make_session(folder / man.files.model, threads), man.dims, man.io, capacity=16)
    problems = []
    for c in doc["cases"]:
        model.reset()
        out = model.step(c["prompt_ids"], c["threshold"], num_logits=len(c["prompt_ids"]))
        n = c["logits_vocab"]
        err = float(np.abs(out.logits[:, :n] - np.array(c["logits"], np.float32)).max())
        perr = float(np.abs(out.probs - np.array(c["router_probs"], np.float32)).max())
        if err > tol["logits_abs"] or perr > tol["router_probs_abs"]:
            problems.append(f"{c['name']}: logits err {err:.2e}, router_probs err {perr:.2e}")
        dec = (out.probs >= np.float32(c["threshold"])).astype(np.int8)
        if not np.array_equal(dec, np.array(c["decisions"], np.int8)):
            problems.append(f"{c['name']}: decisions differ at {int((dec != np.array(c['decisions'])).sum())} places")
        toks, last = [], out.logits[-1]
        for _ in c["greedy"]["ids"]:
            toks.append(int(last.argmax()))
            last = model.step([toks[-1]], c["threshold"]).logits[-1]
        if toks != c["greedy"]["ids"]:
            problems.append(f"{c['name']}: greedy {toks} != reference {c['greedy']['ids']}")
    return problems
