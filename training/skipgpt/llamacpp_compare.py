"""Peer check of the transformers GGUF loading against llama.cpp (node-llama-cpp): tokens and greedy continuations.

`python -m skipgpt compare-llamacpp` runs training/scripts/compare_llamacpp.mjs (JSON over stdin/stdout), compares
token ids and 32 greedy tokens per prompt, writes training/results/llamacpp_parity.json and a docs section.
"""
from __future__ import annotations

import json
import math
import platform
import shutil
import subprocess
import time
from pathlib import Path

import torch

from .plots import write_section

REPO = Path(__file__).resolve().parents[2]
NODE_SCRIPT = REPO / "training" / "scripts" / "compare_llamacpp.mjs"

# Raw code prompts (no chat template) in several languages, as a completion engine would see a file prefix.
PROMPTS = [
    "def fibonacci(n):\n    ",
    "import numpy as np\n\ndef normalize(x):\n    \"\"\"Scale x to unit length.\"\"\"\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n",
    "function debounce(fn, ms) {\n  let timer;\n  return function (...args) {\n",
    "const express = require('express');\nconst app = express();\n\napp.get('/', (req, res) => {\n",
    "export interface User {\n  id: number;\n  name: string;\n}\n\nexport function greet(user: User): string {\n",
    "#include <stdio.h>\n\nint main(void) {\n    int i;\n    for (i = 0; i < 10; i++) {\n",
    "fn main() {\n    let v: Vec<i32> = (1..=10).collect();\n    let sum: i32 = ",
    "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.",
    "public class HelloWorld {\n    public static void main(String[] args) {\n",
    "SELECT name, COUNT(*) AS n\nFROM orders\n",
    "#!/bin/bash\n# Count lines in every .py file\nfor f in ",
]


def hf_side(model, tok, prompts: list[str], n_tokens: int) -> list[dict]:
    """Token ids of the raw text (no special tokens added) and the greedy continuation, in fp32 transformers."""
    out = []
    for prompt in prompts:
        ids = tok(prompt, add_special_tokens=False, return_tensors="pt").input_ids
        with torch.no_grad():
            gen = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=n_tokens,
                                 repetition_penalty=1.0, output_scores=True, return_dict_in_generate=True)
        new = gen.sequences[0, ids.shape[1]:].tolist()
        probs = [torch.softmax(s[0].float(), -1) for s in gen.scores]
        out.append({"ids": ids[0].tolist(), "generated": new, "probs": probs})
    return out


def run_node(gguf: Path, prompts: list[str], n_tokens: int, threads: int) -> dict:
    if shutil.which("node") is None:
        raise SystemExit("node is not on PATH: install Node 20 to run the llama.cpp side")
    req = json.dumps({"modelPath": str(gguf), "prompts": prompts, "nTokens": n_tokens, "threads": threads})
    proc = subprocess.run(["node", str(NODE_SCRIPT)], input=req, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"{NODE_SCRIPT.name} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}\n"
                         "Is node-llama-cpp installed (npm ci at the repository root)?")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare_one(prompt: str, hf: dict, lc: dict, tok) -> dict:
    """Agreement of one prompt. Positions after the first divergence see different prefixes, so the prefix
    agreement is the meaningful number; the total position-wise match is reported as asked."""
    a, b = hf["generated"], lc["generated"]
    n = max(len(a), len(b))
    first = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), None)
    if first is None and len(a) != len(b):
        first = min(len(a), len(b))  # one side stopped at EOS earlier
    prefix = n if first is None else first
    row = {
        "prompt": prompt,
        "tokens_identical": hf["ids"] == lc["ids"],
        "n_prompt_tokens": len(hf["ids"]),
        "hf_generated": a, "llamacpp_generated": b,
        "hf_text": tok.decode(a), "llamacpp_text": lc["text"],
        "first_divergence": first,
        "prefix_agreement": prefix / n if n else 1.0,
        "total_agreement": sum(x == y for x, y in zip(a, b)) / n if n else 1.0,
    }
    if not row["tokens_identical"]:
        row["hf_ids"], row["llamacpp_ids"] = hf["ids"], lc["ids"]
    if first is not None and first < min(len(a), len(b)):
        # Margins at the divergence: if both sides rank the two tokens nearly equal, a flip is a near-tie
        # (quantized llama.cpp matmuls vs dequantized fp32), not a loading error.
        p_hf = hf["probs"][first]
        lc_top = dict((int(t), p) for t, p in lc["top5"][first])
        row["divergence"] = {
            "hf_token": a[first], "llamacpp_token": b[first],
            "hf_p": [float(p_hf[a[first]]), float(p_hf[b[first]])],
            "llamacpp_p": [lc_top.get(a[first]), lc_top.get(b[first])],
            "hf_logit_gap": float(math.log(p_hf[a[first]]) - math.log(p_hf[b[first]])),
        }
    return row


def markdown(res: dict) -> str:
    s = res["summary"]
    lines = [
        f"Command: `{res['command']}` ({res['machine']}). Base: `{res['gguf']}` (Q4_1). "
        f"transformers dequantizes to fp32 and computes in fp32; node-llama-cpp {res['node_llama_cpp']} "
        f"(llama.cpp {res['llama_cpp_release']}, CPU) computes with the Q4_1 weights. "
        f"Raw prompts, no BOS, no chat template; greedy (argmax) {res['n_tokens']} tokens.",
        "",
        f"- Prompts: {s['n_prompts']}; identical token ids: **{s['tokens_identical']}/{s['n_prompts']}**",
        f"- Greedy agreement before the first divergence: **{s['prefix_agreement']:.1%}** of positions "
        f"(position-wise total: {s['total_agreement']:.1%}); fully identical continuations: "
        f"{s['fully_identical']}/{s['n_prompts']}",
        "",
        "| # | prompt (start) | ids equal | prefix agr. | total agr. | divergence at | p_hf(hf tok, lc tok) | "
        "p_lc(hf tok, lc tok) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    fmt = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731  (None: token outside llama.cpp's top 5)
    for i, r in enumerate(res["prompts"]):
        d = r.get("divergence")
        ph = f"{fmt(d['hf_p'][0])}, {fmt(d['hf_p'][1])}" if d else ""
        pl = f"{fmt(d['llamacpp_p'][0])}, {fmt(d['llamacpp_p'][1])}" if d else ""
        head = r["prompt"].split("\n")[0][:28].replace("|", "\\|")
        lines.append(f"| {i} | `{head}` | {'yes' if r['tokens_identical'] else 'NO'} | {r['prefix_agreement']:.0%} | "
                     f"{r['total_agreement']:.0%} | {'—' if r['first_divergence'] is None else r['first_divergence']}"
                     f" | {ph} | {pl} |")
    lines += ["", res["explanation"]]
    return "\n".join(lines)


def explain(rows: list[dict]) -> str:
    divs = [r["divergence"] for r in rows if "divergence" in r]
    if not divs:
        return "All greedy continuations are identical."
    gaps = sorted(abs(d["hf_logit_gap"]) for d in divs)
    return (f"{len(divs)} continuation(s) diverge. At each first divergence the fp32 model's log-probability gap "
            f"between its own choice and llama.cpp's choice is {', '.join(f'{g:.3f}' for g in gaps)} nats "
            f"(a near-tie when small): Q4_1 matmuls in llama.cpp vs dequantized fp32 matmuls in torch shift "
            f"logits by a few hundredths, enough to flip a near-tie; after the first flip the prefixes differ, "
            f"so later positions are not comparable. Identical token ids and identical greedy tokens up to a "
            f"near-tie show the GGUF is loaded correctly (a wrong tensor layout, RoPE or norm would diverge "
            f"from the first token).")


def run(out: Path, doc: Path, n_tokens: int, threads: int) -> dict:
    from .loader import default_gguf_path, load_base

    gguf = default_gguf_path()
    t0 = time.time()
    model, tok, _info = load_base("default")
    model.eval()
    torch.set_num_threads(threads)
    hf = hf_side(model, tok, PROMPTS, n_tokens)
    lc = run_node(gguf, PROMPTS, n_tokens, threads)
    rows = [compare_one(p, h, l, tok) for p, h, l in zip(PROMPTS, hf, lc["results"])]
    n_pos = sum(max(len(r["hf_generated"]), len(r["llamacpp_generated"])) for r in rows)
    res = {
        "command": "cd training && ../.venv/bin/python -m skipgpt compare-llamacpp",
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, no GPU",
        "gguf": gguf.name, "n_tokens": n_tokens,
        "node_llama_cpp": lc["info"]["nodeLlamaCpp"], "llama_cpp_release": lc["info"]["llamaCppRelease"]["release"],
        "summary": {
            "n_prompts": len(rows),
            "tokens_identical": sum(r["tokens_identical"] for r in rows),
            "fully_identical": sum(r["first_divergence"] is None for r in rows),
            # Pooled over positions (weights prompts by their generated length).
            "prefix_agreement": sum(r["prefix_agreement"] * max(len(r["hf_generated"]), len(r["llamacpp_generated"]))
                                    for r in rows) / n_pos,
            "total_agreement": sum(r["total_agreement"] * max(len(r["hf_generated"]), len(r["llamacpp_generated"]))
                                   for r in rows) / n_pos,
        },
        "explanation": explain(rows),
        "wall_s": round(time.time() - t0, 1),
        "prompts": rows,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    write_section(doc, "llamacpp-parity", markdown(res))
    return res


def register(sub) -> None:
    p = sub.add_parser("compare-llamacpp", help="check transformers' GGUF loading against llama.cpp (node-llama-cpp)")
    p.add_argument("--out", type=Path, default=REPO / "training/results/llamacpp_parity.json")
    p.add_argument("--doc", type=Path, default=REPO / "docs/EVALUATION.md")
    p.add_argument("--tokens", type=int, default=32, help="greedy tokens per prompt")
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=_main)


def _main(a) -> int:
    summary = run(a.out, a.doc, a.tokens, a.threads)["summary"]
    print(json.dumps(summary, indent=1))
    return 0 if summary["tokens_identical"] == summary["n_prompts"] else 1
