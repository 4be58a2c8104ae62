"""OrtModel: drives an exported graph with Python onnxruntime the way the engine does (prefill, then decode steps
with a caller-owned KV cache of some capacity). Used by the tests, the build's self-check and the benchmarks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from .manifest import Dims, IONames


@dataclass
class StepOutput:
    logits: np.ndarray  # [N, V]
    probs: np.ndarray  # [S, L, 2]
    new_key: np.ndarray  # [L, KVH, S, D]
    new_value: np.ndarray


def make_session(path: str, threads: int = 2, spin: bool = True) -> ort.InferenceSession:
    """spin=False stops idle worker threads from busy-waiting, so process CPU time measures real work (benchmarks
    on a shared machine)."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    if not spin:
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


class OrtModel:
    def __init__(self, session: ort.InferenceSession, dims: Dims, io: IONames | None = None, capacity: int = 64):
        self.s, self.dims, self.io = session, dims, io or IONames()
        self.length = 0
        shape = (dims.layers, 1, dims.kv_heads, capacity, dims.head_dim)
        self.k = np.zeros(shape, np.float32)
        self.v = np.zeros(shape, np.float32)

    def reset(self, capacity: int | None = None) -> None:
        self.length = 0
        if capacity is not None:
            shape = (self.dims.layers, 1, self.dims.kv_heads, capacity, self.dims.head_dim)
            self.k, self.v = np.zeros(shape, np.float32), np.zeros(shape, np.float32)

    def feeds(self, ids, threshold: float, num_logits: int) -> dict:
        io = self.io
        f = {io.input_ids: np.asarray(ids, np.int64).reshape(1, -1),
             io.past_length: np.array([self.length], np.int64),
             io.threshold: np.array([threshold], np.float32),
             io.num_logits: np.array([num_logits], np.int64)}
        for i in range(self.dims.layers):
            f[io.past_key.format(layer=i)] = self.k[i]
            f[io.past_value.format(layer=i)] = self.v[i]
        return f

    def step(self, ids, threshold: float = 0.5, num_logits: int = 1) -> StepOutput:
        """Run new tokens `ids`, append their K/V to the cache (growing it when full), return the outputs."""
        io = self.io
        logits, probs, nk, nv = self.s.run([io.logits, io.router_probs, io.new_key, io.new_value],
                                           self.feeds(ids, threshold, num_logits))
        S = nk.shape[2]
        need = self.length + S
        if need > self.k.shape[3]:  # grow like the engine: copy into a bigger buffer
            cap = max(need, 2 * self.k.shape[3])
            for name in ("k", "v"):
                old = getattr(self, name)
                new = np.zeros(old.shape[:3] + (cap, old.shape[4]), np.float32)
                new[:, :, :, : self.length] = old[:, :, :, : self.length]
                setattr(self, name, new)
        self.k[:, 0, :, self.length:need] = nk
        self.v[:, 0, :, self.length:need] = nv
        self.length = need
        return StepOutput(logits[0], probs, nk, nv)

    def greedy(self, prompt, steps: int, threshold: float) -> list[int]:
        """Greedy continuation: prefill the prompt, then one token per step."""
        self.reset()
        out = self.step(prompt, threshold)
        toks = []
        for _ in range(steps):
            toks.append(int(out.logits[-1].argmax()))
            out = self.step([toks[-1]], threshold)
        return toks
