"""`python -m skipgpt build` (also `python -m skipgpt.export.cli`): base + deltas -> models/<name>/ for the engine.

Example: python -m skipgpt build --base default --deltas deltas/smollm2-135m-skip25 --out ../models/smollm2-135m-skip25
"""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path


def _exit_on_sigterm(signum, frame) -> None:
    # SIGTERM (e.g. `kill`, a CI timeout) would end Python without unwinding; as SystemExit it runs build()'s
    # cleanup, so no half-written `.<name>.tmp-*` folder is left next to the output.
    raise SystemExit(128 + signum)


def _run(args: argparse.Namespace) -> int:
    from .build import build
    from .deltas import BuildError

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        build(args.base, Path(args.deltas) if args.deltas else None, Path(args.out), quant=args.quant,
              name=args.name, skip_mode=args.skip_mode, greedy_steps=args.greedy_steps,
              calibrate=not args.no_calibrate, default_skip_rate=args.default_skip_rate)
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def register(sub) -> None:
    p = sub.add_parser("build", help="export base + deltas to an ONNX model folder (manifest, parity, tokenizer)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", default="default", help="'default' (packaged SmolLM2-135M GGUF), a .gguf file or a "
                                                      "Hugging Face Llama folder")
    p.add_argument("--deltas", help="training/deltas/<name>/ folder (routers.safetensors, lora/, config.json); "
                                    "omit to export untrained routers (speed tests only)")
    p.add_argument("--out", required=True, help="model folder to create, e.g. ../models/smollm2-135m-skip25")
    p.add_argument("--name", help="model name in the manifest (default: the --out folder name)")
    p.add_argument("--quant", choices=["gguf", "int8", "int4"],
                   help="MatMulNBits weights. int8 (the default model): round-to-nearest 8-bit, any base, ~2x "
                        "faster decode for +0.4%% perplexity; gguf: the GGUF base's own Q4_0/Q4_1/Q8_0 blocks "
                        "re-encoded exactly (same quality as int8, slower on CPU); int4: round-to-nearest 4-bit "
                        "(+45%% perplexity on a Q4 base). docs/EXPORT.md")
    p.add_argument("--skip-mode", default="gather", choices=["gather", "if", "mask"],
                   help="how the graph skips sublayers (docs/EXPORT.md); default gather")
    p.add_argument("--greedy-steps", type=int, default=32, help="greedy tokens per parity case (default 32)")
    p.add_argument("--no-calibrate", action="store_true",
                   help="skip the skip-rate calibration (~1 min on 2 cores; without it the engine accepts only "
                        "thresholds, not skip rates; `python -m skipgpt calibrate --model DIR` adds it later)")
    p.add_argument("--default-skip-rate", type=float, metavar="RATE",
                   help="the model's default operating point as a skip rate (0.15 = 15%%): manifest "
                        "router.threshold_default becomes the calibrated threshold for it (default: threshold 0.5)")
    p.set_defaults(func=_run)
    from .calibrate import register as register_calibrate

    register_calibrate(sub)  # command: calibrate (an existing folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m skipgpt.export.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    from ..loader import BaseModelError

    try:
        return args.func(args)
    except BaseModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
