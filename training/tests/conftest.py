"""Shared pytest fixtures."""
import numpy as np
import pytest


@pytest.fixture()
def corpus(tmp_path):
    """A tiny random token corpus (train/val/test .npy) for training tests."""
    d = tmp_path / "corpus"
    d.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 5000), ("val", 800), ("test", 800)):
        np.save(d / f"{split}.npy", rng.integers(0, 256, n).astype(np.uint16))
    return d


@pytest.fixture(autouse=True)
def hash_cache(tmp_path, monkeypatch):
    """Keep the sha256 cache of temp files (GGUFs written by tests) out of the user's ~/.cache."""
    import skipgpt.loader

    monkeypatch.setattr(skipgpt.loader, "HASH_CACHE", tmp_path / "sha256.json")
