"""Weight-only quantization of the exported graph with onnxruntime's MatMulNBitsQuantizer (the library made for
it): the big MatMuls (q, kv, o, gate_up, down, LM head) become MatMulNBits; routers stay float32. A tied
embedding is not kept in float32 either: its Gather becomes a GatherBlockQuantized over a copy of the LM head's
MatMulNBits blocks (same [V, d] rows, blocks along d; 113 -> 28 MiB on disk for SmolLM2). Measured effect and the
choice of defaults: docs/EXPORT.md (accuracy_level 4 = int8 activations: the fast CPU kernels).
"""
from __future__ import annotations

import logging

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .graph_builder import MS_DOMAIN
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
    groups = ["layers", "lm_head"]
    if weights is not None and weights.lm_head is None and embedding_from_head(model, bits, log=log):
        groups.append("embedding")
    n = sum(1 for x in _all_nodes(model.graph) if x.op_type == "MatMulNBits")
    log(f"quantize: {n} MatMuls -> MatMulNBits {bits}-bit, block {BLOCK}, accuracy_level {accuracy_level} "
        "(routers kept float32)")
    return model, Quantization(method="MatMulNBits", bits=bits, block_size=BLOCK, weights=groups)


def embedding_from_head(model: onnx.ModelProto, bits: int, log=print) -> bool:
    """Replace the embedding Gather of a tied model by GatherBlockQuantized over the quantized head's blocks B
    [V, blocks, blob] (scales as [V, blocks, 1]); the fp32 table is dropped. The blocks are a copy, not the head's
    own initializer: onnxruntime frees a MatMulNBits weight after pre-packing it unless another node reads it, and a
    Gather touches only the rows it reads, so the copy costs 28 MiB of disk and saves 28 MiB of RSS (measured,
    docs/BENCHMARKS.md). False when the graph does not have the expected shape (e.g. an asymmetric head with zero
    points), leaving it unchanged."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    head = next((n for n in g.node if n.op_type == "MatMulNBits" and "/lm_head/" in n.name), None)
    gather = next((n for n in g.node if n.op_type == "Gather" and n.input[0].endswith("/embed_tokens/weight")), None)
    if head is None or gather is None or len(head.input) != 3 or head.input[1] not in inits:
        return False
    table = inits.get(gather.input[0])
    b, scales = inits[head.input[1]], inits.get(head.input[2])
    if table is None or scales is None or tuple(b.dims[:1]) != tuple(table.dims[:1]):
        return False
    v, d = table.dims
    blocks = b.dims[1]
    s3 = numpy_helper.to_array(scales).reshape(v, blocks, 1)
    table_name, s3_name = gather.input[0] + "_blocks", gather.input[0] + "_scales"
    shape_name = gather.output[0] + "_shape"
    g.initializer.extend([numpy_helper.from_array(numpy_helper.to_array(b).copy(), table_name),
                          numpy_helper.from_array(np.ascontiguousarray(s3), s3_name),
                          numpy_helper.from_array(np.array([-1, d], np.int64), shape_name)])
    q_out = gather.output[0] + "_blocks"
    new = [helper.make_node("GatherBlockQuantized", [table_name, gather.input[1], s3_name], [q_out],
                            name=gather.name + "_quantized", domain=MS_DOMAIN, gather_axis=0, quantize_axis=2,
                            block_size=BLOCK, bits=bits),  # [S, blocks, BLOCK]
           helper.make_node("Reshape", [q_out, shape_name], [gather.output[0]], name=gather.name + "_rows")]
    at = list(g.node).index(gather)
    g.node.remove(gather)
    for i, n in enumerate(new):
        g.node.insert(at + i, n)
    g.initializer.remove(table)
    log("quantize: embedding Gather -> GatherBlockQuantized over a copy of the LM head's blocks")
    return True
