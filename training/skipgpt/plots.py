"""Outputs for docs/EVALUATION.md: generated markdown sections (between marker comments) and the PNG plots."""
from __future__ import annotations

from pathlib import Path


def write_section(doc: Path, name: str, body: str) -> None:
    """Replace (or append) the block between <!-- BEGIN GENERATED: name --> and <!-- END GENERATED: name -->,
    so re-running a command updates its own section and leaves hand-written text alone."""
    begin, end = f"<!-- BEGIN GENERATED: {name} -->", f"<!-- END GENERATED: {name} -->"
    text = doc.read_text() if doc.exists() else ""
    block = f"{begin}\n{body.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + ("\n\n" if text else "") + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
