"""spaCy's token-to-vector layers run as one function: the same operations, without thinc's dispatch.

Both token-vector networks of ``en_core_web_sm`` (the shared ``tok2vec`` that feeds the tagger, and the
NER's own) are spaCy's ``MultiHashEmbed`` + ``MaxoutWindowEncoder``: four to six hashed embeddings
summed and mixed by a maxout layer, then four residual blocks of window, maxout and layer norm. thinc
runs them as ~45 nested layers (``chain``, ``with_array``, ``list2ragged``, ``residual``, ``dropout``,
...), and for one turn of ~20 tokens that dispatch costs about as much as the products themselves.
:func:`compile_tok2vec` reads the network's weights once and returns a function that calls the very
operations thinc's layers call, in the same order, on the same arrays (``ops.hash``, ``ops.gather_add``,
``ops.gemm``, ``ops.maxout``, the layer norm's numpy moments, ``ops.seq2col``, ``ops.flatten`` with the
encoder's padding), so its vectors are bit-identical to thinc's; :func:`fuse_tok2vecs` puts it in place
of each such network of a loaded pipeline after checking that on probe texts, and leaves thinc's
network in place (and says so) where the architecture is not the expected one. Inference only: the
fused layer refuses to train.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias, cast

import numpy as np

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc
    from thinc.api import Model
    from thinc.types import Floats1d, Floats2d

log = logging.getLogger("livelens.analysis")

Vectors: TypeAlias = "list[Floats2d]"
#: Texts the fused networks must reproduce exactly before they replace thinc's (an empty text included).
PROBES = (
    "Hi, I was charged twice for my order last week and I need a refund.",
    "It's dana.whitfield@example.com and my phone is 415-555-0142.",
    "Thanks",
    "",
    "Follow up with Mikayla Weld at 221B Baker Street, London NW1 6XE in a couple of months!",
)


class UnsupportedArchitecture(ValueError):
    """The network is not spaCy's MultiHashEmbed + MaxoutWindowEncoder as :func:`compile_tok2vec` reads it."""


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise UnsupportedArchitecture(what)


class MaxoutNorm(NamedTuple):
    """A maxout layer's weights and bias as its forward reshapes them, and its layer norm's gain and shift.

    thinc multiplies by a transposed view of the weights (``gemm(x, W, trans2=True)``: numpy's
    ``dot(x, W.T)``). OpenBLAS repacks such an operand on every call; from a contiguous copy of ``W.T``
    the products of ~20 rows (one turn) take about half the time. They are the same bits only where
    OpenBLAS takes the same path for both layouts, which depends on the row count and on the kernels it
    picked for the CPU (on an AMD EPYC, not for 1-4 rows, 1-6 for a 576-wide input). So
    :func:`_same_product_rows` finds, at load, the row counts up to :data:`CHECKED_ROWS` for which they
    agree; any other count multiplies as thinc does.
    """

    weights: Floats2d
    weights_t: Floats2d
    fast_rows: frozenset[int]
    bias: Floats1d
    n_out: int
    pieces: int
    gain: Floats1d
    shift: Floats1d


#: Row counts checked for :attr:`MaxoutNorm.fast_rows`: one turn of up to ~60 tokens, with padding.
CHECKED_ROWS = 64


@functools.cache
def _same_product_rows(n_out: int, n_in: int, dtype: str) -> frozenset[int]:
    """The row counts ``m`` ≤ :data:`CHECKED_ROWS` for which ``dot(x, W_t)`` is ``dot(x, W.T)`` bit for bit,
    ``W`` an ``n_out × n_in`` matrix and ``W_t`` a contiguous copy of its transpose.

    OpenBLAS' path depends on the shapes and layouts, not on the values, so random matrices of the shape
    answer for every layer of it (both networks share most shapes: checked once each at load).
    """
    rng = np.random.default_rng(0)
    weights = rng.standard_normal((n_out, n_in)).astype(dtype)
    weights_t = np.ascontiguousarray(weights.T)
    same = set()
    for rows in range(1, CHECKED_ROWS + 1):
        x = rng.standard_normal((rows, n_in)).astype(dtype)
        if np.dot(x, weights.T).tobytes() == np.dot(x, weights_t).tobytes():
            same.add(rows)
    return frozenset(same)


def _maxout_norm(chain: Model[Any, Any]) -> MaxoutNorm:
    """``maxout >> layernorm >> dropout``: the maxout's weights as its forward reshapes them, the norm's."""
    _expect(len(chain.layers) == 2 and chain.layers[1].name == "dropout", f"{chain.name}: maxout>>layernorm>>dropout")
    inner = chain.layers[0]
    _expect([layer.name for layer in inner.layers] == ["maxout", "layernorm"], f"{inner.name}: maxout>>layernorm")
    maxout, norm = inner.layers
    n_out, pieces, n_in = maxout.get_dim("nO"), maxout.get_dim("nP"), maxout.get_dim("nI")
    weights = maxout.ops.reshape2f(maxout.get_param("W"), n_out * pieces, n_in)
    weights_t = cast("Floats2d", np.ascontiguousarray(weights.T))
    bias = maxout.ops.reshape1f(maxout.get_param("b"), n_out * pieces)
    fast_rows = _same_product_rows(n_out * pieces, n_in, str(np.asarray(weights).dtype))
    return MaxoutNorm(weights, weights_t, fast_rows, bias, n_out, pieces,
                      cast("Floats1d", norm.get_param("G")), cast("Floats1d", norm.get_param("b")))


def compile_tok2vec(model: Model[Any, Any]) -> Callable[[Sequence[Doc]], Vectors]:
    """The forward pass of ``model`` (spaCy's Tok2Vec v2 network) as one function of a list of docs.

    Raises :class:`UnsupportedArchitecture` unless ``model`` is ``embed >> encode`` as spaCy's
    ``MultiHashEmbed.v2`` (without static vectors) and ``MaxoutWindowEncoder.v2`` build it.
    """
    _expect(len(model.layers) == 2, f"{model.name}: embed>>encode")
    embed, encode = model.layers
    names = [layer.name for layer in embed.layers]
    _expect(len(names) == 5 and names[:2] == ["extract_features", "list2ragged"] and names[4] == "ragged2list"
            and all(name.startswith("with_array") for name in names[2:4]),
            f"{embed.name}: extract_features>>list2ragged>>with_array(...)>>with_array(...)>>ragged2list")
    columns = embed.layers[0].attrs["columns"]
    concat = embed.layers[2].layers[0]
    hashed = []
    for branch in concat.layers:
        _expect([layer.name for layer in branch.layers] == ["ints-getitem", "hashembed"],
                f"{branch.name}: ints-getitem>>hashembed")
        getitem, table = branch.layers
        hashed.append((getitem.attrs["index"], int(table.attrs["seed"]), cast("Floats2d", table.get_param("E"))))
    _expect(bool(hashed), "no hashed embeddings")
    mixer = _maxout_norm(embed.layers[3].layers[0])
    _expect(encode.name.startswith("with_array") and len(encode.layers) == 1, f"{encode.name}: with_array(...)")
    pad = int(encode.attrs["pad"])
    blocks = []
    for block in encode.layers[0].layers:
        _expect(block.name.startswith("residual") and len(block.layers) == 1, f"{block.name}: residual(...)")
        window, *rest = block.layers[0].layers
        _expect(window.name == "expand_window" and len(rest) == 1, f"{block.name}: expand_window>>maxout...")
        blocks.append((int(window.attrs["window_size"]), _maxout_norm(rest[0])))
    _expect(bool(blocks), "no encoder blocks")
    ops = model.ops
    width = model.get_dim("nO")

    def maxout_norm(x: Floats2d, layer: MaxoutNorm) -> Floats2d:
        if x.shape[0] in layer.fast_rows:  # thinc's maxout (see MaxoutNorm) ...
            y = ops.gemm(x, layer.weights_t)
        else:
            y = ops.gemm(x, layer.weights, trans2=True)
        y += layer.bias
        best, _ = ops.maxout(ops.reshape3f(y, y.shape[0], layer.n_out, layer.pieces))
        mean, var = _row_moments(np.asarray(best))  # ... and layer norm, operation for operation
        var = var + 1e-08
        normed = (best - mean) * var ** (-1.0 / 2.0)
        out = normed * layer.gain
        out += layer.shift
        return cast("Floats2d", out)

    def forward(docs: Sequence[Doc]) -> Vectors:
        features = [_columns(np.asarray(doc.to_array(columns), dtype="uint64")) for doc in docs]
        lengths = [len(f) for f in features]
        if not sum(lengths):
            return [ops.alloc2f(0, width) for _ in docs]
        ids = np.concatenate(features)
        parts = []
        for index, seed, table in hashed:
            keys = ops.hash(ops.as_contig(ids[index], dtype="uint64"), seed) % table.shape[0]
            parts.append(ops.gather_add(table, keys))
        mixed = maxout_norm(cast("Floats2d", ops.xp.hstack(parts)), mixer)
        per_doc = ops.unflatten(mixed, ops.asarray1i(lengths))
        x = ops.flatten(per_doc, pad=pad)
        for window, layer in blocks:
            x = x + maxout_norm(ops.seq2col(x, window), layer)
        return ops.unflatten(x, ops.asarray1i(lengths), pad=pad)

    return forward


def _row_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x.mean(axis=1, keepdims=True)`` and ``x.var(axis=1, keepdims=True)`` of a float array, bit for bit.

    The ufunc calls numpy's ``_mean`` and ``_var`` make, in their order, with the same divisor (the row
    length as ``intp``) and casting, without their Python-level checks, which for a ~20 × 96 layer norm
    cost more than the arithmetic. ``_var`` computes the mean the same way ``_mean`` does, so it is
    computed once. The fused networks' test compares the vectors with thinc's own, bit for bit.
    """
    count = np.intp(x.shape[1])
    mean = np.add.reduce(x, axis=1, keepdims=True)
    np.true_divide(mean, count, out=mean, casting="unsafe", subok=False)
    deviations = np.subtract(x, mean)
    np.square(deviations, out=deviations)
    var = np.add.reduce(deviations, axis=1, keepdims=True)
    np.true_divide(var, count, out=var, casting="unsafe", subok=False)  # ddof 0
    return mean, var


def _columns(attrs: np.ndarray) -> np.ndarray:
    """One row per token, as spaCy's feature extractor shapes a single attribute's array."""
    return attrs.reshape((attrs.shape[0], 1)) if attrs.ndim == 1 else attrs


def _inference_only(forward: Callable[[Sequence[Doc]], Vectors], network: Model[Any, Any]) -> Model[Any, Any]:
    from thinc.api import Model

    def run(model: Model[Any, Any], docs: Sequence[Doc], is_train: bool) -> tuple[Vectors, Callable[..., Any]]:
        if is_train:
            raise RuntimeError("the fused tok2vec runs inference only; train with spaCy's own network")

        def no_backprop(_: Any) -> Any:
            raise RuntimeError("the fused tok2vec has no backward pass")

        return forward(docs), no_backprop

    return Model("fused_tok2vec", run, dims={"nO": network.get_dim("nO")}, ops=network.ops)


def fuse_tok2vecs(nlp: Language) -> list[str]:
    """Replace each token-vector network of ``nlp`` by its fused form where that reproduces its vectors
    exactly on :data:`PROBES`; the names of the components whose network was replaced."""
    docs = [nlp.make_doc(text) for text in PROBES]
    fused = []
    for name, component in nlp.pipeline:
        model = getattr(component, "model", None)
        if model is None:
            continue
        if model.has_ref("tok2vec"):  # a pipe with its own network: the first layer of its tok2vec chain
            owner = model.get_ref("tok2vec")
            network = owner.layers[0] if owner.layers else owner
        elif name == "tok2vec" or type(component).__name__ == "Tok2Vec":
            owner, network = None, model
        else:
            continue
        if network.name == "fused_tok2vec" or network.name.startswith("tok2vec-listener"):
            continue
        try:
            forward = compile_tok2vec(network)
            same = all(np.array_equal(np.asarray(a), np.asarray(b))
                       for a, b in zip(network.predict(docs), forward(docs), strict=True))
        except UnsupportedArchitecture as exc:
            log.info("spaCy component %s keeps thinc's token-vector network (%s)", name, exc)
            continue
        except Exception as exc:  # a spaCy or thinc release that works otherwise: never worse than unfused
            log.warning("spaCy component %s keeps thinc's token-vector network: the fused one failed (%s: %s)",
                        name, type(exc).__name__, exc)
            continue
        if not same:
            log.warning("spaCy component %s keeps thinc's token-vector network: the fused one differs", name)
            continue
        replacement = _inference_only(forward, network)
        if owner is None:
            setattr(component, "model", replacement)  # noqa: B010 (Language.pipeline types components as callables)
        elif not model.replace_node(network, replacement):
            continue
        fused.append(name)
    return fused
