"""Shared pytest fixtures."""
import pytest


@pytest.fixture(autouse=True)
def hash_cache(tmp_path, monkeypatch):
    """Keep the sha256 cache of temp files (GGUFs written by tests) out of the user's ~/.cache."""
    import skipgpt.loader

    monkeypatch.setattr(skipgpt.loader, "HASH_CACHE", tmp_path / "sha256.json")
