"""Next-line completion tasks on held-out code, and greedy next-line generation with a SkipLlama.

A task is what the extension sends when the cursor sits at the end of a line and the user waits for the next one:
`<filename>path\\n` + the text before the line, ending at the previous line's end (no newline), so the model writes
the newline and the indentation itself (docs/EVALUATION.md, "The curve"). Files are the corpus' TEST split
(corpus.py: content-hash buckets, never trained on), found by the same discovery and dedup as `skipgpt corpus`.
Scoring: the completion up to its second newline against "\\n" + the true line (trailing spaces ignored): exact
match, and edit similarity 1 − Levenshtein / max length.
"""
from __future__ import annotations

import hashlib
import json
import random
import sysconfig
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
MAX_TARGET_CHARS = 100  # longer lines are data tables or strings, not what a completion is judged on
MIN_TARGET_CHARS = 4  # "}", "])" and the like are too easy to say anything


@dataclass
class Task:
    id: str  # "<rel path>:<line number>"
    lang: str
    prompt: str  # the text the model sees (header + code before the line, ending at the previous line's end)
    target: str  # the true next line, without its newline


def held_out_files(node_modules: Path) -> list:
    """The corpus' test-split files (SourceFile with text), same discovery/dedup order as `skipgpt corpus`."""
    from .corpus import discover_node, discover_site_packages, discover_stdlib, read_and_dedup, split_of

    files = discover_stdlib() + discover_site_packages(Path(sysconfig.get_paths()["purelib"])) + \
        discover_node(node_modules)
    kept, _ = read_and_dedup(files)
    return [f for f in kept if split_of(f.content_id) == "test"]


def _display_path(rel: str) -> str:
    # What a workspace-relative path looks like in an editor request: drop the corpus' source prefix.
    return rel.split("/", 1)[1] if rel.startswith(("stdlib/", "site-packages/")) else rel


def make_tasks(files: list, n: int, *, seed: int = 0, context_chars: int = 1200, with_header: bool = True) -> list[Task]:
    """n tasks, half Python and half TypeScript/JavaScript (as far as files allow), at most 2 per file, target lines
    drawn uniformly among eligible lines (8+ lines in, non-blank previous line, MIN..MAX_TARGET_CHARS, no tabs)."""
    rng = random.Random(seed)
    by_lang: dict[str, list] = {"py": [], "js": []}
    for f in sorted(files, key=lambda f: f.rel):
        by_lang["py" if f.lang == "python" else "js"].append(f)
    tasks: list[Task] = []
    quota = {"py": (n + 1) // 2, "js": n // 2}
    if not by_lang["js"]:
        quota = {"py": n, "js": 0}
    for lang, pool in by_lang.items():
        pool = pool[:]
        rng.shuffle(pool)
        got = 0
        for f in pool:
            if got >= quota[lang]:
                break
            lines = f.text.replace("\r\n", "\n").split("\n")  # CRLF files: judge the line, not its "\r"
            ok = [i for i in range(8, len(lines)) if lines[i - 1].strip() and "\t" not in lines[i]
                  and MIN_TARGET_CHARS <= len(lines[i].strip()) and len(lines[i]) <= MAX_TARGET_CHARS]
            for i in sorted(rng.sample(ok, min(2, len(ok), quota[lang] - got))):
                before = "\n".join(lines[:i])  # ends at the previous line's end
                if len(before) > context_chars:  # the editor's window: whole lines, the nearest ones
                    cut = before.find("\n", len(before) - context_chars)
                    before = before[cut + 1:]
                header = f"<filename>{_display_path(f.rel)}\n" if with_header else ""
                tasks.append(Task(f"{f.rel}:{i + 1}", f.lang, header + before, lines[i].rstrip()))
                got += 1
    return tasks


def save_tasks(tasks: list[Task], path: Path) -> str:
    """Writes JSON lines; returns the sha256 of the file (recorded with every result that used it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(json.dumps(asdict(t)) + "\n" for t in tasks)
    path.write_text(body)
    return hashlib.sha256(body.encode()).hexdigest()


def load_tasks(path: Path) -> tuple[list[Task], str]:
    body = path.read_text()
    return [Task(**json.loads(line)) for line in body.splitlines() if line], hashlib.sha256(body.encode()).hexdigest()


# ---------------------------------------------------------------- scoring

def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def inserted_line(completion: str) -> str:
    """What the completion inserts up to the end of the next line: text before its second newline."""
    first = completion.find("\n")
    if first < 0:
        return completion.rstrip()
    second = completion.find("\n", first + 1)
    return (completion if second < 0 else completion[:second]).rstrip()


def score(completion: str, target: str) -> tuple[bool, float]:
    got, want = inserted_line(completion), ("\n" + target).rstrip()
    sim = 1.0 - levenshtein(got, want) / max(len(got), len(want), 1)
    return got == want, sim


# ---------------------------------------------------------------- generation

@torch.no_grad()
def complete(model, tokenizer, prompt: str, *, max_new: int = 40, eos_ids: set[int] = frozenset(), **fwd) -> dict:
    """Greedy tokens until the text holds two newlines (the next line is complete), EOS or max_new. Uses the KV
    cache (SkipLlama.forward(cache=...)): a skipped attention still writes its K/V, as in the exported graph.
    Returns the completion and the execute gates of the generated tokens (prefill and decode apart)."""
    from transformers import DynamicCache

    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    cache = DynamicCache()
    out = model(torch.tensor([ids]), cache=cache, **fwd)
    prefill_gates = out.gates[0].float().mean(0)  # [L, 2]
    new: list[int] = []
    decode_gates = []
    text = ""
    for _ in range(max_new):
        nxt = int(out.logits[0, -1].argmax())
        if nxt in eos_ids:
            break
        new.append(nxt)
        text = tokenizer.decode(new)
        if text.count("\n") >= 2:
            break
        out = model(torch.tensor([[nxt]]), cache=cache, **fwd)
        decode_gates.append(out.gates[0, 0].float())
    dec = torch.stack(decode_gates).mean(0) if decode_gates else None
    return {"text": text, "tokens": len(new), "prompt_tokens": len(ids),
            "prefill_skip": (1 - prefill_gates).tolist(), "decode_skip": None if dec is None else (1 - dec).tolist()}


# ---------------------------------------------------------------- CLI

def run(args) -> int:
    files = held_out_files(Path(args.node_modules))
    tasks = make_tasks(files, args.n, seed=args.seed, context_chars=args.context)
    sha = save_tasks(tasks, Path(args.out))
    langs = {lang: sum(t.lang == lang for t in tasks) for lang in sorted({t.lang for t in tasks})}
    print(f"{len(tasks)} tasks from {len({t.id.rsplit(':', 1)[0] for t in tasks})} of {len(files)} test-split files "
          f"{langs} -> {args.out} (sha256 {sha[:16]})")
    return 0


def register(sub) -> None:
    p = sub.add_parser("nextline-tasks", help="next-line completion tasks from the corpus' held-out test split")
    p.add_argument("--n", type=int, default=160)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--context", type=int, default=1200, help="characters of code before the line (whole lines)")
    p.add_argument("--node-modules", default=str(REPO / "node_modules"))
    p.add_argument("--out", default=str(REPO / "data/nextline/tasks.jsonl"))
    p.set_defaults(func=run)
