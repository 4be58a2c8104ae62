"""Command line entry: `python -m skipgpt <command> ...` (run from training/).

Each command lives in its own module exposing `register(subparsers)`; add a command by adding its module name below.
Modules are imported when the parser is built; a module that fails to import only disables its own command.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = [
    "corpus",
    "train",
    "export.cli",  # command: build
    "shortgpt",
    "evaluate",
    "llamacpp_compare",  # command: compare-llamacpp
]


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, BaseException]]:
    parser = argparse.ArgumentParser(prog="python -m skipgpt", description="SkipGPT training toolkit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    broken: dict[str, BaseException] = {}
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"skipgpt.{name}")
        except Exception as e:  # noqa: BLE001 - reported below if this very command is chosen
            broken[name.replace("_", "-")] = e
            continue
        module.register(sub)
    return parser, broken


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser, broken = build_parser()
    # A chosen command whose module failed to import must fail loudly, with the real error.
    if argv and argv[0] in broken:
        raise broken[argv[0]]
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        if broken:
            print(f"\nunavailable (import failed): {', '.join(f'{k}: {v}' for k, v in broken.items())}",
                  file=sys.stderr)
        return 2
    from .loader import BaseModelError

    try:
        return args.func(args) or 0
    except BaseModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
