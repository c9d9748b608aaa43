"""Operator fusion for the MiniLM encoder build (:mod:`livelens.analysis.encoder_build`).

The export spells each layer's attention out in ~40 small operators (reshapes, transposes, shape
arithmetic, the mask built with ``Where``/``IsNaN``, softmax, two products) and each GELU in five.
Run one text at a time, as the integer-arithmetic build is, those operators cost about as much as the
weight products themselves: every one is a kernel call on a 20-token tensor. onnxruntime's own
transformer optimizer does not recognise this export's attention (its mask pattern), so the two
patterns are matched here and replaced by onnxruntime's fused operators:

* ``MultiHeadAttention`` (``com.microsoft``): the query, key and value products' outputs, their three
  biases as one, the attention mask as the key padding mask; scale 1/sqrt(head size), as the export's;
* ``BiasGelu`` (``com.microsoft``): the intermediate product's bias and the exact (erf) GELU.

The fused graph computes the same function in float (cosine 1.0 to the unfused one on the benchmark
turns); every tensor that the SmoothQuant ranges are keyed by keeps its name. A pattern that does not
match exactly as expected raises :class:`FusionError` rather than build a different model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx

#: all-MiniLM-L6-v2: 12 heads of 32 dimensions.
NUM_HEADS = 12
HEAD_SIZE = 32
MASK_INT32 = "attention_mask_int32"


class FusionError(RuntimeError):
    """The export's graph is not the one these fusions were written for."""


class _Graph:
    def __init__(self, model: onnx.ModelProto) -> None:
        from onnx import numpy_helper

        self.model = model
        self.inits = {t.name: t for t in model.graph.initializer}
        self.producer: dict[str, onnx.NodeProto] = {out: node for node in model.graph.node for out in node.output}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in model.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self._array = numpy_helper.to_array

    def made_by(self, tensor: str, op_type: str) -> onnx.NodeProto:
        node = self.producer.get(tensor)
        if node is None or node.op_type != op_type:
            found = "a graph input or weight" if node is None else node.op_type
            raise FusionError(f"expected {tensor!r} to come from {op_type}, found {found}")
        return node

    def only_consumer(self, tensor: str, op_type: str) -> onnx.NodeProto:
        users = self.consumers.get(tensor, [])
        if len(users) != 1 or users[0].op_type != op_type:
            raise FusionError(f"expected {tensor!r} to feed one {op_type}, found {[u.op_type for u in users]}")
        return users[0]

    def constant(self, name: str) -> np.ndarray | None:
        return self._array(self.inits[name]) if name in self.inits else None

    def scalar_input(self, node: onnx.NodeProto) -> tuple[float, str]:
        """A binary node with one scalar constant input: (the constant, the other input)."""
        for i, name in enumerate(node.input):
            value = self.constant(name)
            if value is not None and value.size == 1:
                return float(value.reshape(())), node.input[1 - i]
        raise FusionError(f"expected {node.name} ({node.op_type}) to have a scalar constant input")

    def weight_product(self, tensor: str) -> tuple[onnx.NodeProto, str]:
        """``tensor = MatMul(x, W) + b``: the MatMul and the bias's name."""
        add = self.made_by(tensor, "Add")
        for i, name in enumerate(add.input):
            other = add.input[1 - i]
            if name in self.inits and other in self.producer and self.producer[other].op_type == "MatMul":
                matmul = self.producer[other]
                if matmul.input[1] in self.inits:
                    return matmul, name
        raise FusionError(f"expected {tensor!r} to be a weight product plus a bias")

    def upstream(self, tensor: str, op_type: str, limit: int = 12) -> onnx.NodeProto:
        """The nearest node of ``op_type`` up the first-input chain from ``tensor``."""
        for _ in range(limit):
            node = self.producer.get(tensor)
            if node is None:
                break
            if node.op_type == op_type:
                return node
            tensor = node.input[0]
        raise FusionError(f"no {op_type} within {limit} nodes above {tensor!r}")


def fuse_attention(graph: _Graph) -> dict[str, onnx.NodeProto]:
    """One ``MultiHeadAttention`` per layer, keyed by the output it replaces (the heads merged back)."""
    import onnx
    from onnx import numpy_helper

    fused: dict[str, onnx.NodeProto] = {}
    for node in list(graph.model.graph.node):
        # probabilities x values: the only product of two computed tensors whose second input is a transpose
        if node.op_type != "MatMul" or node.input[1] in graph.inits or node.input[0] in graph.inits:
            continue
        values = graph.producer.get(node.input[1])
        if values is None or values.op_type != "Transpose":
            continue
        value_linear = graph.made_by(values.input[0], "Reshape").input[0]
        scores = graph.upstream(node.input[0], "FusedMatMul")
        alpha = next((a.f for a in scores.attribute if a.name == "alpha"), 1.0)
        if abs(alpha - HEAD_SIZE ** -0.5) > 1e-6:
            raise FusionError(f"attention scale {alpha} is not 1/sqrt({HEAD_SIZE})")
        query_linear = graph.made_by(graph.made_by(scores.input[0], "Transpose").input[0], "Reshape").input[0]
        key_view = scores.input[1]
        while True:  # the key's reshapes and transposes, up to the product's bias Add
            above = graph.producer[key_view]
            if above.op_type == "Reshape" and graph.producer[above.input[0]].op_type == "Add":
                key_linear = above.input[0]
                break
            if above.op_type not in ("Reshape", "Transpose"):
                raise FusionError(f"unexpected {above.op_type} on the attention's key path")
            key_view = above.input[0]
        merged = graph.only_consumer(node.output[0], "Transpose")
        output = graph.only_consumer(merged.output[0], "Reshape").output[0]
        products = [graph.weight_product(t) for t in (query_linear, key_linear, value_linear)]
        if len({p[0].input[0] for p in products}) != 1:
            raise FusionError("the query, key and value products do not share one input")
        bias_name = f"{output}_qkv_bias"
        bias = np.concatenate([graph.constant(b) for _, b in products]).astype(np.float32)
        graph.model.graph.initializer.append(numpy_helper.from_array(bias, bias_name))
        fused[output] = onnx.helper.make_node(
            "MultiHeadAttention",
            [*(matmul.output[0] for matmul, _ in products), bias_name, MASK_INT32],
            [output],
            name=f"{output}_attention",
            domain="com.microsoft",
            num_heads=NUM_HEADS,
        )
    return fused


def fuse_gelu(graph: _Graph) -> dict[str, onnx.NodeProto]:
    """``BiasGelu`` for ``x * 0.5 * (1 + erf(x / sqrt 2))`` with ``x = MatMul(...) + b``."""
    import onnx

    fused: dict[str, onnx.NodeProto] = {}
    for erf in [n for n in graph.model.graph.node if n.op_type == "Erf"]:
        divisor, linear = graph.scalar_input(graph.made_by(erf.input[0], "Div"))
        add_one = graph.only_consumer(erf.output[0], "Add")
        one, _ = graph.scalar_input(add_one)
        times_half = graph.only_consumer(add_one.output[0], "Mul")
        half, _ = graph.scalar_input(times_half)
        times_x = graph.only_consumer(times_half.output[0], "Mul")
        if not (np.isclose(divisor, np.sqrt(2.0)) and one == 1.0 and half == 0.5 and linear in times_x.input):
            raise FusionError(f"{erf.name} is not part of an erf GELU")
        matmul, bias = graph.weight_product(linear)
        fused[times_x.output[0]] = onnx.helper.make_node(
            "BiasGelu", [matmul.output[0], bias], [times_x.output[0]], name=f"{times_x.output[0]}_gelu",
            domain="com.microsoft",
        )
    return fused


def fuse(model_path: str, out: str) -> dict[str, int]:
    """Write ``model_path`` with its attention and GELUs fused into ``out``; the fused counts."""
    import onnx

    model = onnx.load(model_path)
    graph = _Graph(model)
    attention, gelu = fuse_attention(graph), fuse_gelu(graph)
    if not attention or not gelu:
        raise FusionError(f"found {len(attention)} attention blocks and {len(gelu)} GELUs to fuse")
    replacing = {**attention, **gelu}
    nodes = [replacing.get(n.output[0], n) if n.output else n for n in model.graph.node]
    nodes.insert(0, onnx.helper.make_node("Cast", ["attention_mask"], [MASK_INT32], name="attention_mask_to_int32",
                                          to=onnx.TensorProto.INT32))
    _keep_only_live(model, nodes)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, out)
    return {"MultiHeadAttention": len(attention), "BiasGelu": len(gelu)}


def _keep_only_live(model: onnx.ModelProto, nodes: Iterable[onnx.NodeProto]) -> None:
    """Keep the nodes (and weights) the graph's outputs depend on; drop the replaced plumbing."""
    needed = {o.name for o in model.graph.output}
    live = []
    for node in reversed(list(nodes)):
        if any(out in needed for out in node.output):
            live.append(node)
            needed.update(node.input)
    live.reverse()
    del model.graph.node[:]
    model.graph.node.extend(live)
    weights = [t for t in model.graph.initializer if t.name in needed]
    del model.graph.initializer[:]
    model.graph.initializer.extend(weights)
