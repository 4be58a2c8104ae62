"""The llama.cpp parity bookkeeping on hand-made outputs (the real run needs the GGUF and node-llama-cpp)."""
import pytest
import torch

from skipgpt.llamacpp_compare import compare_one, teacher_forced


class Tok:
    def decode(self, ids):
        return " ".join(map(str, ids))


def probs(best: int, second: int, p1: float, p2: float, vocab: int = 8) -> torch.Tensor:
    p = torch.full((vocab,), (1 - p1 - p2) / (vocab - 2))
    p[best], p[second] = p1, p2
    return p


def test_divergence_position_agreements_and_margins():
    hf = {"ids": [1, 2], "generated": [3, 4, 5, 6], "probs": [probs(3, 0, .9, .05), probs(4, 0, .9, .05),
                                                             probs(5, 7, .40, .38), probs(6, 0, .9, .05)]}
    lc = {"ids": [1, 2], "generated": [3, 4, 7, 6], "text": "",
          "top5": [[[3, .9]], [[4, .9]], [[7, .41], [5, .39]], [[6, .9]]],
          "forcedTop5": [[[3, .9], [0, .05]], [[4, .88]], [[7, .41], [5, .39]], [[6, .9]]]}
    row = compare_one("p", hf, lc, Tok())
    assert row["tokens_identical"] and row["first_divergence"] == 2
    assert row["prefix_agreement"] == 0.5 and row["total_agreement"] == 0.75
    d = row["divergence"]
    assert d["hf_token"] == 5 and d["llamacpp_token"] == 7
    assert d["hf_p"] == pytest.approx([.40, .38]) and d["llamacpp_p"] == [.39, .41]
    tf = row["teacher_forced"]
    assert tf["positions"] == 4 and tf["top1_agree"] == 3 and [f["pos"] for f in tf["flips"]] == [2]
    assert abs(tf["max_abs_prob_diff"] - 0.03) < 1e-6  # |0.38 - 0.41| at the near-tie


def test_token_mismatch_and_early_eos_are_reported():
    hf = {"ids": [1, 2], "generated": [3, 4], "probs": [probs(3, 0, .9, .05), probs(4, 0, .9, .05)]}
    lc = {"ids": [1, 9], "generated": [3], "text": "", "top5": [[[3, .9]]], "forcedTop5": [[[3, .9]], [[4, .9]]]}
    row = compare_one("p", hf, lc, Tok())
    assert not row["tokens_identical"] and row["llamacpp_ids"] == [1, 9]
    assert row["first_divergence"] == 1 and "divergence" not in row  # llama.cpp stopped (EOS) first
    assert teacher_forced(hf, lc)["top1_agree"] == 2
