"""Kernel microbenchmarks behind the engine's graph choices (docs/BENCHMARKS.md §0a), each on a synthetic 30-layer
chain shaped like SmolLM2-135M so the weights do not sit in the core's caches:

- node overhead: a chain of 1,800 cheap nodes against one of 10 (what ~1,800 small graph nodes cost a step);
- linear kernels: 30 gate|up-shaped [576 -> 3072] products at 1, 2 and 64 rows with MatMulNBits 8-bit (blocks of
  32 and 64), MatMulNBits 4-bit, and DynamicQuantizeMatMul (8-bit per-column weights, activations quantized per tensor);
- attention over a KV cache of C rows in 30 layers: grouped queries (the graph's layout, 3 query rows per KV head),
  one query head at a time (1 row each), and the grouped layout in float16.
Random weights: only speed is measured. Run: cd training && ../.venv/bin/python -m skipgpt.export.bench_kernels
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

MS = "com.microsoft"
K, N, LAYERS = 576, 3072, 30


def _session(nodes, inputs, outputs, inits, threads: int) -> ort.InferenceSession:
    g = helper.make_graph(nodes, "bench", inputs, outputs, initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
    m.ir_version = 8
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = threads, 1, 3
    return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])


def _median_ms(sess: ort.InferenceSession, feeds: dict, reps: int) -> float:
    for _ in range(5):
        sess.run(None, feeds)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        sess.run(None, feeds)
        ts.append(time.perf_counter() - t)
    return float(np.median(ts) * 1e3)


def node_overhead(threads: int, reps: int) -> float:
    """Microseconds per extra node in a chain of Adds on a [1, 576] row."""
    def chain(n):
        nodes = [helper.make_node("Add", ["x" if i == 0 else f"y{i - 1}", "c"], [f"y{i}"]) for i in range(n)]
        sess = _session(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, K])],
                        [helper.make_tensor_value_info(f"y{n - 1}", TensorProto.FLOAT, [1, K])],
                        [numpy_helper.from_array(np.ones(1, np.float32), "c")], threads)
        return _median_ms(sess, {"x": np.ones((1, K), np.float32)}, reps)
    return (chain(1810) - chain(10)) / 1800 * 1e3


def linear_chain(kind: str, threads: int) -> ort.InferenceSession:
    """30 [K -> N] products, each output's first K columns feeding the next (a Slice, so every layer runs)."""
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i in range(LAYERS):
        if kind.startswith("nbits"):
            bits, block = {"nbits8-b32": (8, 32), "nbits8-b64": (8, 64), "nbits4-b32": (4, 32)}[kind]
            blob = rng.integers(0, 256, size=(N, K // block, block * bits // 8), dtype=np.uint8)
            scales = (rng.random(N * K // block, dtype=np.float32) * 0.01).astype(np.float32)
            nodes.append(helper.make_node("MatMulNBits", [x, f"w{i}", f"s{i}"], [f"h{i}"], domain=MS, K=K, N=N,
                                          bits=bits, block_size=block, accuracy_level=4))
        else:  # DynamicQuantizeMatMul: int8 [K, N] weights with one scale per column
            blob = rng.integers(-127, 128, size=(K, N), dtype=np.int8)
            scales = (rng.random(N, dtype=np.float32) * 0.01).astype(np.float32)
            nodes.append(helper.make_node("DynamicQuantizeMatMul", [x, f"w{i}", f"s{i}"], [f"h{i}"], domain=MS))
        inits += [numpy_helper.from_array(blob, f"w{i}"), numpy_helper.from_array(scales, f"s{i}")]
        nodes.append(helper.make_node("Slice", [f"h{i}", "zero", "k", "one"], [f"y{i}"]))
        x = f"y{i}"
    inits += [numpy_helper.from_array(np.array([v], np.int64), name) for name, v in (("zero", 0), ("k", K), ("one", 1))]
    return _session(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["M", K])],
                    [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["M", K])], inits, threads)


def attention_chain(kind: str, rows: int, threads: int) -> tuple[ort.InferenceSession, dict]:
    """Scores, softmax and output over a [1, 3, rows, 64] cache in 30 layers for one decode token (9 query heads)."""
    dt, npdt = (TensorProto.FLOAT16, np.float16) if kind == "grouped-fp16" else (TensorProto.FLOAT, np.float32)
    q_shape = [3, 3, 1, 64] if kind == "per-head" else [1, 3, 3, 64]
    rng = np.random.default_rng(0)
    nodes, inputs, outs = [], [helper.make_tensor_value_info("q", dt, q_shape)], []
    feeds = {"q": rng.random(q_shape, dtype=np.float32).astype(npdt)}
    for i in range(LAYERS):
        inputs += [helper.make_tensor_value_info(f"{t}{i}", dt, [1, 3, rows, 64]) for t in "kv"]
        feeds.update({f"{t}{i}": rng.random((1, 3, rows, 64), dtype=np.float32).astype(npdt) for t in "kv"})
        k, v = f"k{i}", f"v{i}"
        if kind == "per-head":  # [1, 3, C, D] viewed as [3, 1, C, D]: each query head is its own 1-row product
            nodes += [helper.make_node("Reshape", [t, "heads"], [f"{t}h"]) for t in (k, v)]
            k, v = f"{k}h", f"{v}h"
        nodes += [helper.make_node("FusedMatMul", ["q", k], [f"s{i}"], domain=MS, transB=1, alpha=0.125),
                  helper.make_node("Softmax", [f"s{i}"], [f"p{i}"], axis=-1),
                  helper.make_node("MatMul", [f"p{i}", v], [f"o{i}"])]
        outs.append(f"o{i}")
    nodes.append(helper.make_node("Sum", outs, ["y"]))
    inits = [numpy_helper.from_array(np.array([3, 1, rows, 64], np.int64), "heads")] if kind == "per-head" else []
    return _session(nodes, inputs, [helper.make_tensor_value_info("y", dt, None)], inits, threads), feeds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache-rows", type=int, default=1088, help="KV rows for the attention rows (1,088 at ~1,000 tokens)")
    ap.add_argument("--reps", type=int, default=40)
    a = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, onnxruntime {ort.__version__}, "
          f"{a.threads} threads; medians of {a.reps} runs\n")
    print(f"node overhead: {node_overhead(a.threads, a.reps):.2f} us per extra Add node in a 1,800-node chain\n")
    print(f"| 30 x [{K} -> {N}] | 1 row ms | 2 rows ms | 64 rows ms |\n|---|---|---|---|")
    for kind in ("nbits8-b32", "nbits8-b64", "nbits4-b32", "dynamic-quantize-matmul"):
        sess = linear_chain(kind, a.threads)
        x = np.random.default_rng(1).random((64, K), dtype=np.float32) - 0.5
        cells = [f"{_median_ms(sess, {'x': x[:m]}, a.reps):.2f}" for m in (1, 2, 64)]
        print(f"| {kind} | " + " | ".join(cells) + " |", flush=True)
    print(f"\n| attention, 30 layers, {a.cache_rows} cache rows | ms |\n|---|---|")
    for kind in ("grouped-fp32", "per-head", "grouped-fp16"):
        sess, feeds = attention_chain(kind, a.cache_rows, a.threads)
        print(f"| {kind} | {_median_ms(sess, feeds, a.reps):.2f} |", flush=True)


if __name__ == "__main__":
    main()
