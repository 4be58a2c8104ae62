"""Weight-only quantization of the exported graph with onnxruntime's MatMulNBitsQuantizer (the library made for
it): the big MatMuls (q, kv, o, gate_up, down, LM head) become MatMulNBits; routers stay float32 so decisions do
not move, and the embedding stays float32 for its Gather. Measured effect and the choice of defaults:
docs/EXPORT.md (accuracy_level 4 = int8 activations: the fast CPU kernels).
"""
from __future__ import annotations

import logging

import onnx

from .manifest import Quantization

# name -> bits of every quantized MatMul. A 4-bit layers / 8-bit head mix was measured and dropped
# (docs/EXPORT.md): the 4-bit layers, not the head, cost the perplexity.
SCHEMES = {"int8": 8, "int4": 4}
BLOCK = 32


def _all_nodes(graph: onnx.GraphProto):
    for n in graph.node:
        yield n
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from _all_nodes(a.g)


def quantize_model(model: onnx.ModelProto, weights=None, quant: str = "int8", accuracy_level: int | None = 4,
                   symmetric: bool = True, log=print) -> tuple[onnx.ModelProto, Quantization]:
    if quant not in SCHEMES:
        raise ValueError(f"quantization {quant!r} is not one of {sorted(SCHEMES)}")
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)  # one line/node

    bits = SCHEMES[quant]
    routers = [n.name for n in _all_nodes(model.graph) if "/router/" in n.name and n.op_type == "MatMul"]
    q = MatMulNBitsQuantizer(model, bits=bits, block_size=BLOCK, is_symmetric=symmetric,
                             accuracy_level=accuracy_level, nodes_to_exclude=routers, op_types_to_quantize=("MatMul",))
    q.process()
    model = q.model.model
    n = sum(1 for x in _all_nodes(model.graph) if x.op_type == "MatMulNBits")
    log(f"quantize: {n} MatMuls -> MatMulNBits {bits}-bit, block {BLOCK}, accuracy_level {accuracy_level} "
        "(routers kept float32)")
    return model, Quantization(method="MatMulNBits", bits=bits, block_size=BLOCK, weights=["layers", "lm_head"])
