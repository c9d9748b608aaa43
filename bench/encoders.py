"""CPU per text of MiniLM encoders side by side, and how far their vectors move (benchmark of the encoder alone).

    python bench/encoders.py MODEL.onnx [MODEL.onnx ...] [--rounds 5] [--reference MODEL.onnx] [--dev N]

Each model embeds the 34 corpus turns (``bench/corpus.py``) at batch 1 and at batch 8 through livelens'
``Embedder`` (one intra-op thread, vector cache off); the models take turns, round after round, and the
median process CPU time per text is reported, so a busy machine weighs on every model alike. With
``--dev N`` the cosine between each model's vectors and the reference's (default: the first model) is
measured on N development texts (TwACS dev turns, DynaSent R2 dev, TweetEval validation): mean, 5th
percentile and minimum. No test split is read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from corpus import CONVERSATIONS  # noqa: E402

from livelens.analysis.embeddings import Embedder, tokenizer_file  # noqa: E402


def cpu_per_text(embedder: Embedder, texts: list[str], batch: int) -> float:
    embedder.clear_cache()
    start = time.process_time()
    for i in range(0, len(texts), batch):
        embedder.embed(texts[i : i + batch], batch_size=batch)
    return (time.process_time() - start) / len(texts) * 1000


def dev_texts(count: int) -> list[str]:
    from livelens.analysis.evaluation import datasets

    data = datasets.default_data_dir()
    pools = [
        [t for c in datasets.twacs(data, "dev") for _, t in c.turns],
        [r.text for r in datasets.sentiment_set(data, "dynasent-r2-dev")],
        [r.text for r in datasets.sentiment_set(data, "tweeteval-val")],
    ]
    share = count // len(pools)
    return [t for pool in pools for t in pool[:: max(1, len(pool) // share)][:share]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reference", type=Path, default=None)
    parser.add_argument("--dev", type=int, default=0)
    args = parser.parse_args()
    texts = [t for conversation in CONVERSATIONS for _, t in conversation]
    embedders = {str(p): Embedder(p, tokenizer_file()) for p in args.models}
    for e in embedders.values():
        e.cache_entries = 0
    samples: dict[str, dict[int, list[float]]] = {p: {1: [], 8: []} for p in embedders}
    for _ in range(args.rounds):
        for path, embedder in embedders.items():
            for batch in (1, 8):
                samples[path][batch].append(cpu_per_text(embedder, texts, batch))
    drift: dict[str, dict[str, float]] = {}
    if args.dev:
        dev = dev_texts(args.dev)
        reference = Embedder(args.reference or args.models[0], tokenizer_file())
        reference.cache_entries = 0
        ref = reference.embed(dev)
        for path, embedder in embedders.items():
            cos = (embedder.embed(dev) * ref).sum(axis=1)
            drift[path] = {
                "mean": round(float(cos.mean()), 4),
                "p05": round(float(np.percentile(cos, 5)), 4),
                "min": round(float(cos.min()), 4),
            }
    for path in embedders:
        row: dict[str, object] = {
            "model": path,
            "rows_per_run": embedders[path].rows_per_run,
            "batch1_ms_per_text": round(float(np.median(samples[path][1])), 2),
            "batch8_ms_per_text": round(float(np.median(samples[path][8])), 2),
            "load_average": round(os.getloadavg()[0], 1),
        }
        if path in drift:
            row["cosine_to_reference"] = drift[path]
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
