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
    "forecast_cli",  # command: forecast (fit | eval)
    "nextline",  # command: nextline-tasks
    "curve",
    "curve_report",  # command: curve-report
]


def build_parser() -> tuple[argparse.ArgumentParser, set[str], dict[str, BaseException]]:
    """Returns (parser, registered command names, {module: import error} for modules that failed)."""
    parser = argparse.ArgumentParser(prog="python -m skipgpt", description="SkipGPT training toolkit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    broken: dict[str, BaseException] = {}
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"skipgpt.{name}")
        except Exception as e:  # noqa: BLE001 - reported below if an unregistered command is asked for
            broken[name] = e
            continue
        module.register(sub)
    return parser, set(sub.choices), broken


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser, known, broken = build_parser()
    # A command that is not registered because its module failed to import must fail loudly, with the real error
    # (the module name need not equal the command name, so every import failure is shown).
    if argv and not argv[0].startswith("-") and argv[0] not in known and broken:
        for name, err in broken.items():
            print(f"error: module skipgpt.{name} failed to import: {type(err).__name__}: {err}", file=sys.stderr)
        raise next(iter(broken.values()))
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
