"""The committed tiny model under test/fixtures/tiny/: a byte-level BPE tokenizer trained on a few KB of code,
a 3-layer random Llama sized to it, routers biased so that threshold 0.5 gives mixed decisions, exported exactly
like a real model. Regenerate: cd training && ../.venv/bin/python -m skipgpt.export.fixture ../test/fixtures/tiny
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..model import SkipLlama, tiny_llama

# SmolLM2's added tokens, same ids and order, so the tiny tokenizer behaves like the real one.
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>", "<reponame>", "<file_sep>", "<filename>",
            "<gh_stars>", "<issue_start>", "<issue_comment>", "<issue_closed>", "<jupyter_start>", "<jupyter_text>",
            "<jupyter_code>", "<jupyter_output>", "<jupyter_script>", "<empty_output>"]
VOCAB = 384
TOKENIZER_TEXTS = ["def add(a, b):\n    return a + b\n", "import numpy as np\nx = np.zeros((3, 4))\n",
                   "<filename>main.py\nclass Foo:\n    pass\n", "for i in range(10):\n\tprint(i)  # 123\n",
                   "const x = 42; // héllo wörld ✓\n", "  \n\n   leading and trailing   ", "<|im_start|>user\nhi<|im_end|>"]
PROMPTS = {"add": "def add(a, b):\n    return", "loop": "for i in range(10):\n    print(", "file": "<filename>a.py\nimport"}
THRESHOLDS = [0.0, 0.5, 0.6]


def _corpus() -> list[str]:
    """A few KB of code from the Python standard library (fixed for a given Python version)."""
    import json.encoder
    import textwrap
    return [Path(m.__file__).read_text(encoding="utf-8")[:6000] for m in (textwrap, json.encoder)]


def train_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    # Same pipeline as SmolLM2's tokenizer.json: digits split one by one, then GPT-2 byte-level BPE.
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_corpus(), trainer)
    return tok


def tiny_skip_model(vocab: int, seed: int) -> SkipLlama:
    base = tiny_llama(seed=seed, layers=3, hidden=64, heads=4, kv_heads=2, inter=128, vocab=vocab)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        # Larger embeddings than HF's 0.02 init so logits (tied head) are well separated and greedy is stable.
        base.model.embed_tokens.weight.normal_(0, 0.5, generator=g)
        # ... and blocks strong enough to move the residual away from the input token, so greedy varies.
        for n, p in base.model.layers.named_parameters():
            if n.endswith("proj.weight"):
                p.normal_(0, 0.25, generator=g)
        skip = SkipLlama(base).eval()
        for r in skip.routers:
            for lin in (r.attn, r.mlp):
                lin.weight.normal_(0, 0.6, generator=g)
                lin.bias.copy_(torch.tensor([0.3, -0.3]) * torch.randn(1, generator=g))
    return skip


def _ok(doc: dict) -> tuple[bool, str]:
    """Fixture must be robust: decisions mixed at 0.5, no decision or greedy argmax within float noise."""
    routed = [c for c in doc["cases"] if c["threshold"] == 0.5]
    frac = np.mean([c["executed_fraction"] for c in routed])
    margin = min(c["min_prob_margin"] for c in doc["cases"] if c["min_prob_margin"] is not None)
    gap = min(c["greedy"]["min_logit_gap"] for c in doc["cases"])
    distinct = min(len(set(c["greedy"]["ids"])) for c in doc["cases"])  # a constant continuation tests little
    return (0.3 < frac < 0.8 and margin > 1e-3 and gap > 1e-3 and distinct >= 3,
            f"exec@0.5={frac:.2f} margin={margin:.1e} gap={gap:.1e} distinct={distinct}")


def build_fixture(out: Path, seed: int = 0) -> dict:
    from .build import export_folder
    from .manifest import Delta, Provenance

    tok = train_tokenizer()
    tmp = Path(tempfile.mkdtemp())
    tok.save(str(tmp / "tokenizer.json"))
    cases = [{"text": t, "ids": tok.encode(t).ids} for t in TOKENIZER_TEXTS]
    prompts = {k: tok.encode(v).ids for k, v in PROMPTS.items()}
    for s in range(seed, seed + 50):  # first seed whose routing and greedy margins are comfortable
        skip = tiny_skip_model(tok.get_vocab_size(), s)
        prov = Provenance(base_name=f"tiny-random-llama(seed={s})", base_sha256=None,
                          deltas=[Delta("random-routers", "")], toolkit_version="", exported_at="")
        folder = export_folder(skip, tmp / "model", name="tiny", tokenizer_json=tmp / "tokenizer.json",
                               prompts=prompts, thresholds=THRESHOLDS, greedy_steps=8, tokenizer_cases=cases,
                               provenance=prov, align=64, log=lambda *_: None)
        doc = json.loads((folder / "parity.json").read_text())
        ok, why = _ok(doc)
        print(f"seed {s}: {why}{'' if ok else ' (rejected)'}", file=sys.stderr)
        if ok:
            if out.exists():
                shutil.rmtree(out)
            shutil.move(str(folder), str(out))
            return doc
        shutil.rmtree(folder)
    raise RuntimeError("no seed gave a robust fixture")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    build_fixture(a.out, a.seed)
