"""Next-line tasks and scoring (nextline.py), cached generation, and the curve's dial (curve.py)."""
import math
from pathlib import Path

import pytest
import torch

from skipgpt.corpus import SourceFile
from skipgpt.curve import calibrate, threshold_for
from skipgpt.evaluate import paired_diff_ci
from skipgpt.model import SkipLlama, tiny_llama
from skipgpt.nextline import complete, inserted_line, load_tasks, make_tasks, save_tasks, score


class ByteTokenizer:
    """One token per byte (the tiny model's vocabulary is 256)."""

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": list(text.encode())}

    def decode(self, ids):
        return bytes(ids).decode(errors="replace")


def test_score_compares_what_is_inserted_up_to_the_next_lines_end():
    assert inserted_line("\n    return x\n    y = 2") == "\n    return x"
    assert score("\n    return x\nmore", "    return x") == (True, 1.0)
    assert score("\n    return x  \n", "    return x") == (True, 1.0)  # trailing spaces do not count
    em, es = score("\n    return y\n", "    return x")
    assert not em and es == pytest.approx(1 - 1 / 13)
    assert score(" + 1\n    return x\n", "    return x")[0] is False  # continued the previous line first
    assert score("", "abcd") == (False, 0.0)


def _file(rel, lang, n=30):
    text = "\n".join(f"line_{i} = {i}" if i % 5 else "" for i in range(n))
    return SourceFile(Path(rel), rel, "pkg", "MIT", lang, text=text)


def test_tasks_end_at_the_previous_lines_end_with_the_filename_header(tmp_path):
    files = [_file("stdlib/a/b.py", "python"), _file("stdlib/c.py", "python"), _file("node_modules/x/y.ts", "typescript"),
             _file("node_modules/x/z.js", "javascript")]
    tasks = make_tasks(files, 6, seed=3, context_chars=60)
    assert len(tasks) == 6 and sum(t.lang == "python" for t in tasks) == 3
    for t in tasks:
        rel, line = t.id.rsplit(":", 1)
        src = next(f for f in files if f.rel == rel).text.split("\n")
        i = int(line) - 1
        assert t.target == src[i] and t.target.strip() and src[i - 1].strip()
        shown = rel.split("/", 1)[1] if rel.startswith("stdlib/") else rel
        header = f"<filename>{shown}\n"
        assert t.prompt.startswith(header)
        body = t.prompt[len(header):]
        assert body.endswith(src[i - 1]) and not body.endswith("\n")  # the model writes the newline itself
        assert len(body) <= 60 and "\n".join(src[:i]).endswith(body)  # whole lines, the nearest ones
    sha = save_tasks(tasks, tmp_path / "t.jsonl")
    again, sha2 = load_tasks(tmp_path / "t.jsonl")
    assert again == tasks and sha == sha2
    assert make_tasks(files, 6, seed=3, context_chars=60) == tasks  # deterministic


@pytest.mark.parametrize("fwd", [{"mode": "dense"}, {"mode": "hard", "threshold": 0.5},
                                 {"mode": "static", "static_mask": torch.tensor([[True, False], [False, True]])}])
def test_cached_generation_equals_recomputing_the_whole_sequence(fwd):
    torch.manual_seed(0)
    m = SkipLlama(tiny_llama()).eval()
    with torch.no_grad():  # routers that skip some tokens and run others
        for r in m.routers:
            r.attn.weight.normal_(0, 0.5)
            r.mlp.weight.normal_(0, 0.5)
            r.attn.bias.zero_()
            r.mlp.bias.zero_()
    tok = ByteTokenizer()
    prompt = "def f(x):\n    return"
    got = complete(m, tok, prompt, max_new=12, **fwd)
    ids = tok(prompt)["input_ids"]
    want = []
    with torch.no_grad():
        for _ in range(got["tokens"]):
            nxt = int(m(torch.tensor([ids + want]), **fwd).logits[0, -1].argmax())
            want.append(nxt)
    assert got["tokens"] >= 1 and tok.decode(want) == got["text"]
    if fwd["mode"] == "hard":
        assert 0 < sum(map(sum, got["prefill_skip"])) < 2 * len(got["prefill_skip"])  # mixed decisions


def test_threshold_for_follows_the_engines_dial():
    pts = [{"threshold": 0.0, "skip": 0.0}, {"threshold": 0.1, "skip": 0.10}, {"threshold": 0.5, "skip": 0.30},
           {"threshold": 0.3, "skip": 0.25}, {"threshold": 0.9, "skip": 0.28}]  # last point dips: running max
    assert threshold_for(pts, 0.10) == pytest.approx(0.1)
    assert threshold_for(pts, 0.05) == pytest.approx(0.1)  # below the range: the first point
    assert threshold_for(pts, 0.99) == pytest.approx(0.9)  # above: the last
    t = threshold_for(pts, 0.20)  # halfway between skip 0.10 (t=0.1) and 0.30 (t=0.5) in logit space
    z = lambda p: torch.logit(torch.tensor(p, dtype=torch.float64)).item()  # noqa: E731
    assert z(t) == pytest.approx((z(0.1) + z(0.5)) / 2)


def test_calibrate_measures_more_skipping_at_higher_thresholds():
    torch.manual_seed(0)
    m = SkipLlama(tiny_llama()).eval()
    with torch.no_grad():
        for r in m.routers:
            r.attn.weight.normal_(0, 0.5)
            r.mlp.weight.normal_(0, 0.5)
            r.attn.bias.zero_()
            r.mlp.bias.zero_()
    wins = torch.randint(0, 256, (2, 16)).tolist()
    pts = calibrate(m, wins, [0.0, 0.3, 0.5, 0.7, 1.0])
    assert pts[0]["skip"] == 0 and pts[-1]["skip"] == 1.0
    assert 0 < pts[2]["skip"] < 1 and pts[1]["skip"] <= pts[3]["skip"]
    assert pts[2]["skip"] == pytest.approx((pts[2]["attn_skip"] + pts[2]["mlp_skip"]) / 2)


def test_paired_interval_covers_the_mean_difference():
    a, b = [1, 1, 0, 1, 0, 1, 1, 0], [0, 1, 0, 0, 0, 1, 0, 0]
    lo, hi = paired_diff_ci(a, b)
    assert lo <= 3 / 8 <= hi and hi > 0
    assert paired_diff_ci(a, a) == [0.0, 0.0]


def _row(system, target, em, ppl, skip, n=10):
    tasks = [{"em": i < round(em * n), "es": 0.5, "tokens": 3, "text": ""} for i in range(n)]
    sk = {"count": skip, "params": skip, "attn": skip, "mlp": skip, "weights_read": skip}
    return {"system": system, "target": target, "ppl": ppl, "window_nll": [math.log(ppl)] * 4, "skip": sk,
            "nextline_skip_prefill": sk, "nextline_skip_decode": sk, "exact_match": em, "edit_similarity": 0.5,
            "tasks": tasks}


def test_curve_report_states_each_goal_from_the_rows(tmp_path):
    from skipgpt.curve_report import markdown, plot

    res = {"n_tasks": 10, "tasks_file": "t.jsonl", "tasks_sha256": "0" * 64, "windows": 4, "seq_len": 8, "max_new": 8,
           "threads": 1, "rows": {
               "dense": _row("dense", 0.0, 1.0, 10.0, 0.0), "dense+LoRA": _row("dense+LoRA", 0.0, 1.0, 9.5, 0.0),
               "ShortGPT 20%": _row("ShortGPT", 0.2, 0.1, 30.0, 0.2), "ShortGPT 10%": _row("ShortGPT", 0.1, 0.3, 15, 0.1),
               "routed 10%": _row("routed", 0.1, 0.5, 10.2, 0.09), "routed 20%": _row("routed", 0.2, 0.8, 12.0, 0.21),
               "routed calibration": {"points": [], "wall_s": 1.0}}}
    md = markdown(res, {"dense_decode_tok_s": 25.0, "targets": [{"target": 0.2, "decode_tok_s": 30.0}]}, "img/curve.png")
    assert "routed at 20% (21.0% skipped): exact match 0.80× dense (edit similarity 1.00×; goal ≥ 0.9: not met), " \
           "perplexity 1.26× dense+LoRA (goal ≤ 1.10: not met)" in md
    assert "routed at 10%" not in md  # a target below 20%: no goal
    # 10%: EM 0.5 vs 0.3 on 10 tasks (2 tasks differ) is not clear; 20%: 0.8 vs 0.1, PPL 12 vs 30 on every window
    assert "exact match at 1 of 2 rates, edit similarity at 0 of 2, perplexity at 2 of 2 (not met)" in md
    line = next(x for x in md.splitlines() if x.startswith("| 20% | routed |"))
    assert "| 30.0 (1.20×) |" in line and "+0.700" in line and "0.40" in line  # speed, EM vs ShortGPT, PPL ratio
    assert next(x for x in md.splitlines() if x.startswith("| — | dense |")).endswith("| 25.0 |")
    plot(res, tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 10_000
