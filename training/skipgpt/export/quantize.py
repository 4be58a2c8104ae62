"""Weight-only quantization of the exported graph with onnxruntime's MatMulNBitsQuantizer (the library made for
it): every big MatMul (q, kv, o, gate_up, down, LM head) becomes MatMulNBits; routers stay float32 so decisions
do not move, and the embedding stays float32 for its Gather. Measured effect: docs/EXPORT.md.
"""
from __future__ import annotations

import onnx

from .manifest import Quantization

BITS = {"int4": 4, "int8": 8}
BLOCK = 32


def _all_nodes(graph: onnx.GraphProto):
    for n in graph.node:
        yield n
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from _all_nodes(a.g)


def quantize_model(model: onnx.ModelProto, weights=None, quant: str = "int4", accuracy_level: int | None = None,
                   log=print) -> tuple[onnx.ModelProto, Quantization]:
    import logging

    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)  # one line/node

    if quant not in BITS:
        raise ValueError(f"quantization {quant!r} is not one of {sorted(BITS)}")
    routers = [n.name for n in _all_nodes(model.graph) if "/router/" in n.name and n.op_type == "MatMul"]
    q = MatMulNBitsQuantizer(model, bits=BITS[quant], block_size=BLOCK, is_symmetric=True,
                             accuracy_level=accuracy_level, nodes_to_exclude=routers, op_types_to_quantize=("MatMul",))
    q.process()
    out = q.model.model
    n = sum(1 for x in _all_nodes(out.graph) if x.op_type == "MatMulNBits")
    log(f"quantize: {n} MatMuls -> MatMulNBits {BITS[quant]}-bit, block {BLOCK} (routers kept float32)")
    return out, Quantization(method="MatMulNBits", bits=BITS[quant], block_size=BLOCK, weights=["layers", "lm_head"])
