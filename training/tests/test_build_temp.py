"""Temp folders of killed builds (`.<name>.tmp-<host>-<pid>-*`) are removed by the next build; a live build's,
another host's and unrelated folders are kept."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import skipgpt.loader
from skipgpt.export.build import build
from skipgpt.export.build_temp import host_tag, make_build_temp, pid_alive, remove_stale
from skipgpt.model import tiny_llama

TRAINING = Path(__file__).resolve().parents[1]


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()  # reaped: the id no longer names a process (until the system reuses it)
    assert not pid_alive(p.pid)
    return p.pid


def folders(tmp_path, dead: int) -> dict[str, Path]:
    names = {"stale": f".m.tmp-{host_tag()}-{dead}-abc12_yz", "live": f".m.tmp-{host_tag()}-{os.getpid()}-k2j4h5g6",
             "other_host": f".m.tmp-elsewhere0-{dead}-abc12_yz", "unrelated": ".m.tmp-notes",
             "plain": "m", "old_style": ".m.tmp-a1b2c3d4"}
    out = {}
    for key, name in names.items():
        out[key] = tmp_path / name
        out[key].mkdir()
        (out[key] / "model.onnx.data").write_bytes(b"x" * 100)
    return out


def test_remove_stale_keeps_live_foreign_and_unrelated(tmp_path):
    f = folders(tmp_path, dead_pid())
    logs = []
    removed = remove_stale(tmp_path, log=logs.append)
    assert removed == [f["stale"]] and not f["stale"].exists()
    assert all(f[k].exists() for k in ("live", "other_host", "unrelated", "plain", "old_style"))
    assert any("process" in m and "is gone" in m for m in logs)
    assert any(str(f["old_style"]) in m and "delete it" in m for m in logs)  # named, not deleted


def test_temp_of_a_sigkilled_process_is_removed(tmp_path):
    out = tmp_path / "models" / "m"
    out.parent.mkdir()
    code = ("import os, signal, sys; from pathlib import Path; from skipgpt.export.build_temp import make_build_temp;"
            "t = make_build_temp(Path(sys.argv[1])); (t / 'model.onnx.data').write_bytes(b'x' * 1000);"
            "os.kill(os.getpid(), signal.SIGKILL)")
    rc = subprocess.run([sys.executable, "-c", code, str(out)], cwd=TRAINING).returncode
    assert rc == -signal.SIGKILL
    left = list(out.parent.iterdir())
    assert len(left) == 1 and left[0].name.startswith(".m.tmp-")  # what the issue saw: a hidden leftover
    mine = make_build_temp(out, log=lambda *_: None)
    assert list(out.parent.iterdir()) == [mine]  # the killed one is gone, this build's own is kept
    assert remove_stale(out.parent, log=lambda *_: None) == [] and mine.exists()


def test_build_cleans_before_it_starts(tmp_path, monkeypatch):
    class Info:
        kind, name, source = "hf", "tiny", "tiny"

        def to_dict(self):
            return {}

    def stop(*a, **k):
        raise RuntimeError("stop after the temp folder exists")

    monkeypatch.setattr(skipgpt.loader, "load_base", lambda *a, **k: (tiny_llama(), None, Info()))
    monkeypatch.setattr(skipgpt.loader, "save_tokenizer_json", stop)
    f = folders(tmp_path, dead_pid())
    with pytest.raises(RuntimeError, match="stop after"):
        build("tiny", None, tmp_path / "out", log=lambda *_: None)
    assert not f["stale"].exists() and f["live"].exists() and f["other_host"].exists()
    assert not list(tmp_path.glob(".out.tmp-*"))  # its own temp folder removed by the normal error path
