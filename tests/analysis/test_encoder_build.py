"""The integer-arithmetic MiniLM encoder made on first use from the packaged export (encoder_build.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from livelens.analysis import encoder_build
from livelens.analysis.embeddings import Embedder, load_embedder, model_file, source_model_file, tokenizer_file

TEXTS = [
    "My card was declined twice today and I need it fixed.",
    "ok",
    "Thanks, that fixed it!",
    "I was charged for a subscription I cancelled last month.",
]


def test_the_build_keeps_the_exports_vectors() -> None:
    built = load_embedder()
    export = Embedder(source_model_file(), tokenizer_file())
    cosines = np.sum(built.embed(TEXTS) * export.embed(TEXTS), axis=1)
    assert cosines.min() > 0.98, cosines


def test_the_build_is_made_in_the_model_cache_and_labelled() -> None:
    import onnx

    path = model_file()
    assert path.parent == encoder_build.cache_dir()
    metadata = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    assert metadata["livelens.rows_per_run"] == "1"
    assert metadata["livelens.ranges_sha256"] == encoder_build.file_sha256(encoder_build.ranges_file())
    model = onnx.load(str(path))
    assert sum(node.op_type == "MatMulInteger" for node in model.graph.node) == 36
    assert not encoder_build.weight_groups(model)  # no weight product is left in float
    kinds = [node.op_type for node in model.graph.node]
    assert kinds.count("MultiHeadAttention") == 6 and kinds.count("BiasGelu") == 6
    assert not {"Softmax", "Erf", "Transpose", "Where", "IsNaN"} & set(kinds)  # the plumbing is gone
    # residual adds and layer norms stay apart (cheaper than onnxruntime's SkipLayerNormalization kernel),
    # also in the session that runs the model
    assert "SkipLayerNormalization" not in kinds and kinds.count("LayerNormalization") == 13


def test_the_running_session_does_not_fuse_the_layer_norms_back(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """onnxruntime's default optimisations would fuse them again when the model loads."""
    import onnx
    import onnxruntime as ort

    optimised = tmp_path / "as-run.onnx"
    real = ort.InferenceSession

    def session(path: str, sess_options: ort.SessionOptions, **kwargs: object) -> ort.InferenceSession:
        sess_options.optimized_model_filepath = str(optimised)
        return real(path, sess_options=sess_options, **kwargs)

    monkeypatch.setattr(ort, "InferenceSession", session)
    Embedder(model_file(), tokenizer_file())
    kinds = [node.op_type for node in onnx.load(str(optimised)).graph.node]
    assert "SkipLayerNormalization" not in kinds and kinds.count("LayerNormalization") == 13


def test_fusion_keeps_the_function_and_the_ranges_tensor_names(tmp_path: Path) -> None:
    """In float, before quantisation: the fused graph gives the unfused graph's vectors, and every tensor
    the SmoothQuant ranges are keyed by is still there."""
    import onnx

    from livelens.analysis import encoder_fusion

    source = source_model_file()
    folded, small, fused = tmp_path / "folded.onnx", tmp_path / "small.onnx", tmp_path / "fused.onnx"
    encoder_build.fold(source, folded)
    encoder_build.int8_word_table(folded, source, small)
    assert encoder_fusion.fuse(str(small), str(fused)) == {"MultiHeadAttention": 6, "BiasGelu": 6}
    assert set(encoder_build.weight_groups(onnx.load(str(fused)))) == set(encoder_build.load_ranges(
        encoder_build.ranges_file()))
    texts = [*TEXTS, "Hi Priya, the refund of $42.10 for order 55120-884 went out this morning."]
    before = Embedder(small, tokenizer_file()).embed(texts)
    after = Embedder(fused, tokenizer_file()).embed(texts)
    assert np.sum(before * after, axis=1).min() > 0.99999
    padded = Embedder(fused, tokenizer_file())  # several texts of different lengths in one padded run
    np.testing.assert_allclose(padded.embed(texts, batch_size=8), after, atol=1e-5)


def test_an_unexpected_graph_is_refused_not_half_fused(tmp_path: Path) -> None:
    import onnx

    from livelens.analysis import encoder_fusion

    source = source_model_file()
    folded, broken = tmp_path / "folded.onnx", tmp_path / "broken.onnx"
    encoder_build.fold(source, folded)
    model = onnx.load(str(folded))
    for node in model.graph.node:
        for attribute in node.attribute:
            if node.op_type == "FusedMatMul" and attribute.name == "alpha":
                attribute.f = 0.5  # not the 1/sqrt(32) scale MultiHeadAttention applies
    onnx.save(model, str(broken))
    with pytest.raises(encoder_fusion.FusionError, match="attention scale"):
        encoder_fusion.fuse(str(broken), str(tmp_path / "out.onnx"))
    assert not (tmp_path / "out.onnx").exists()


def test_processes_starting_together_build_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVELENS_MODEL_CACHE", str(tmp_path / "cache"))
    builds: list[Path] = []

    def fake_build(source: Path, ranges: Path, out: Path, alpha: float = 0.7) -> None:
        builds.append(out)
        time.sleep(0.3)
        out.write_bytes(b"model")

    monkeypatch.setattr(encoder_build, "build", fake_build)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(
            encoder_build.built_model(source_model_file(), encoder_build.ranges_file())))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1
    assert len(set(results)) == 1 and results[0].read_bytes() == b"model"
    assert not list(results[0].parent.glob("*.partial"))  # nothing half-written is left


def test_a_failed_build_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVELENS_MODEL_CACHE", str(tmp_path))

    def broken(source: Path, ranges: Path, out: Path, alpha: float = 0.7) -> None:
        out.write_bytes(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(encoder_build, "build", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        encoder_build.built_model(source_model_file(), encoder_build.ranges_file())
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob("*.partial"))


def test_a_cache_that_cannot_be_made_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("LIVELENS_MODEL_CACHE", str(blocker / "cache"))
    with pytest.raises(RuntimeError, match="LIVELENS_MODEL_CACHE") as caught:
        encoder_build.built_model(source_model_file(), encoder_build.ranges_file())
    assert str(blocker / "cache") in str(caught.value)


def test_ranges_that_do_not_fit_the_graph_are_refused(tmp_path: Path) -> None:
    source = source_model_file()
    folded, small = tmp_path / "folded.onnx", tmp_path / "small.onnx"
    encoder_build.fold(source, folded)
    encoder_build.int8_word_table(folded, source, small)
    with pytest.raises(RuntimeError, match="do not match"):
        encoder_build.smooth(small, tmp_path / "out.onnx", {}, encoder_build.SMOOTH_ALPHA)


def test_the_shipped_ranges_cover_every_weight_group(tmp_path: Path) -> None:
    import onnx

    source = source_model_file()
    folded, small = tmp_path / "folded.onnx", tmp_path / "small.onnx"
    encoder_build.fold(source, folded)
    encoder_build.int8_word_table(folded, source, small)
    model = onnx.load(str(small))
    rows = {t.name: t.dims[0] for t in model.graph.initializer if t.dims}
    groups = encoder_build.weight_groups(model)
    ranges = encoder_build.load_ranges(encoder_build.ranges_file())
    assert list(ranges) == list(groups) and len(groups) == 24
    for name, nodes in groups.items():  # one range per input channel of the group's weights
        assert ranges[name].shape == (rows[nodes[0].input[1]],) and (ranges[name] > 0).all()
