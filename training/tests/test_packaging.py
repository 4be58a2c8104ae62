"""training/pyproject.toml: `pip install -e training` gives a `skipgpt` command that is the same CLI as
`python -m skipgpt`, and the package's pins keep torch at the CPU-sized 2.13.0 like requirements.txt."""
import importlib
import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest

import skipgpt.__main__

TRAINING = Path(__file__).resolve().parents[1]


def project() -> dict:
    return tomllib.loads((TRAINING / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def resolve(spec: str):
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def test_console_script_is_the_cli_main():
    assert resolve(project()["scripts"]["skipgpt"]) is skipgpt.__main__.main


def test_installed_entry_point_matches_when_installed():
    eps = [e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "skipgpt"]
    if not eps:
        pytest.skip("skipgpt is not pip-installed in this environment (pip install -e training)")
    assert eps[0].load() is skipgpt.__main__.main


def test_dependencies_mirror_requirements_and_pin_torch():
    def pins(lines):
        return {m[1].lower(): m[2] for m in (re.match(r"^([A-Za-z0-9_.-]+)==(\S+)$", ln.strip()) for ln in lines) if m}

    declared = pins(project()["dependencies"] + project()["optional-dependencies"]["test"])
    required = pins((TRAINING / "requirements.txt").read_text().splitlines())
    assert declared["torch"] == "2.13.0"
    assert declared == required
