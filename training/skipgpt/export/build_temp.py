"""The build's temporary folder next to --out, `.<out name>.tmp-<host>-<pid>-<random>`, and the removal of stale ones.

A build killed with SIGKILL (or a power cut) runs no cleanup and leaves a ~200 MB hidden folder; the name records
which process owned it, so the next build on this host removes folders whose owner is gone. A folder of a live
process, of another host (shared disk) or with any other name is never touched.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

# mkdtemp appends 8 characters of [a-z0-9_]
_OWNED = re.compile(r"^\..+\.tmp-(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-[a-z0-9_]+$")
_OLD_STYLE = re.compile(r"^\..+\.tmp-[a-z0-9_]{8}$")  # before the owner was recorded: cannot tell if stale


def host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists (or might: errors other than 'no such process' count as alive)."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except (OverflowError, OSError):  # e.g. PermissionError: it exists but belongs to another user
        return True
    return True


def remove_stale(parent: Path, log=print) -> list[Path]:
    """Delete build temp folders in `parent` whose owning process (on this host) no longer runs."""
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    me = host_tag()
    for p in sorted(parent.iterdir()):
        if p.is_symlink() or not p.is_dir():
            continue
        m = _OWNED.match(p.name)
        if m is None:
            if _OLD_STYLE.match(p.name):
                log(f"note: {p} looks like the leftover of an interrupted older build; delete it if no build runs")
            continue
        if m["host"] != me or pid_alive(int(m["pid"])):
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
        log(f"removed {p} (temporary folder of an interrupted build, process {m['pid']} is gone)")
    return removed


def make_build_temp(out: Path, log=print) -> Path:
    """Remove stale temp folders beside `out`, then create this build's own (same file system: rename at the end)."""
    remove_stale(out.parent, log)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{host_tag()}-{os.getpid()}-", dir=out.parent))
