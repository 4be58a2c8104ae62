"""GraphBuilder: a thin layer over onnx.helper that names nodes as paths (/model/layers.3/attn/q_proj/MatMul),
collects initializers, and can open nested node lists (If branches) that read outer-scope values by name.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MS_DOMAIN = "com.microsoft"
OPSET = 21  # onnxruntime-node 1.30 supports it; the Python onnx 1.23 default (28) is too new for it
IR_VERSION = 10


class GraphBuilder:
    def __init__(self):
        self.initializers: list[onnx.TensorProto] = []
        self._nodes_stack: list[list[onnx.NodeProto]] = [[]]
        self._scope: list[str] = []
        self._names: set[str] = set()
        self._consts: dict[tuple, str] = {}

    # ---- naming ----
    @contextmanager
    def scope(self, name: str):
        self._scope.append(name)
        try:
            yield
        finally:
            self._scope.pop()

    def path(self, leaf: str) -> str:
        base = "/" + "/".join(self._scope + [leaf])
        name, i = base, 1
        while name in self._names:  # unique even when a helper is used twice in one scope
            i += 1
            name = f"{base}_{i}"
        self._names.add(name)
        return name

    # ---- nodes ----
    @property
    def nodes(self) -> list[onnx.NodeProto]:
        return self._nodes_stack[-1]

    def op(self, op_type: str, inputs: list[str], name: str | None = None, n_out: int = 1,
           domain: str | None = None, **attrs):
        """Add a node named <scope>/<name or op_type>; returns its output name(s) (<node path>/output_i)."""
        node_name = self.path(name or op_type)
        outs = [f"{node_name}/output_{i}" for i in range(n_out)]
        if domain is None and op_type in ("FusedMatMul",):
            domain = MS_DOMAIN
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=node_name, domain=domain, **attrs))
        return outs[0] if n_out == 1 else outs

    def op_to(self, op_type: str, inputs: list[str], outputs: list[str], name: str | None = None, **attrs):
        """Add a node writing to given output names (graph outputs, If-branch outputs)."""
        node_name = self.path(name or op_type)
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=node_name, **attrs))

    @contextmanager
    def subgraph(self):
        """Collect nodes into a fresh list (an If branch); yields the list."""
        self._nodes_stack.append([])
        try:
            yield self._nodes_stack[-1]
        finally:
            self._nodes_stack.pop()

    # ---- data ----
    def weight(self, name: str, array: np.ndarray) -> str:
        """An initializer named like the path of the module owning it (/model/layers.0/attn/q_proj/weight)."""
        full = "/" + "/".join(self._scope + [name])
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), full))
        return full

    def const(self, values, dtype=np.int64) -> str:
        """A small shared constant (shapes, axes); deduplicated by value."""
        arr = np.asarray(values, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key not in self._consts:
            name = f"/const/{arr.dtype.name}_{len(self._consts)}"
            self.initializers.append(numpy_helper.from_array(arr, name))
            self._consts[key] = name
        return self._consts[key]


def value_info(name: str, elem_type: int, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, shape)


FLOAT, INT64, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL
