"""Train livelens' sentiment classifier from development splits only.

    .venv/bin/python scripts/train_sentiment.py [--data-dir ../shared/data] [--check]

Features: the MiniLM int8 sentence embedding (384) and the tuned-VADER scores
(compound, pos, neg, neu). Model: multinomial logistic regression with an L2
penalty, fitted exactly by Newton's method (convex, so the result does not
depend on a learning rate or an iteration budget), with class-balanced
weights inside each source and every source weighted equally, so that MELD's
10,000 sitcom lines do not drown the 720 DynaSent round-2 sentences.
Development data: DynaSent R1/R2 dev, DynaSent's re-validated SST dev,
MELD train and dev, TweetEval validation.

Model selection (the L2 strength and the VADER cut-offs) uses 5-fold
cross-validation over the development data; no test split is read. The
fitted standardisation is folded into the weights, so at run time the model
is one matrix product. Output: ``src/livelens/analysis/data/sentiment_minilm.npy``
(3 x 389 float32) and ``sentiment_minilm.json`` (metadata). ``--check``
retrains and fails unless the shipped files are reproduced byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from pathlib import Path

import numpy as np

from livelens.analysis.evaluation.cache import embed_cached
from livelens.analysis.evaluation.datasets import SENTIMENT_DEV_SETS, default_data_dir, sentiment_set
from livelens.analysis.evaluation.metrics import macro_f1
from livelens.analysis.sentiment import LABELS, META_FILE, WEIGHTS_FILE, load_vader

LAMBDAS = (100.0, 300.0, 1000.0, 3000.0, 10000.0)
FOLDS = 5
POSITIVE_CUTS = tuple(round(x, 2) for x in np.arange(0.05, 0.66, 0.05))
NEGATIVE_CUTS = tuple(round(-x, 2) for x in np.arange(0.05, 0.66, 0.05))


def load_dev(data_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], list[str]]:
    vader = load_vader()
    feats, labels, sources, texts = [], [], [], []
    for source in SENTIMENT_DEV_SETS:
        rows = sentiment_set(data_dir, source)
        emb = embed_cached([r.text for r in rows])
        vad = np.stack([vader.features(r.text) for r in rows])
        feats.append(np.concatenate([emb, vad], axis=1))
        labels.extend(LABELS.index(r.label) for r in rows)  # type: ignore[arg-type]
        sources.extend([source] * len(rows))
        texts.extend(r.text for r in rows)
    return (
        np.concatenate(feats).astype(np.float64),
        np.array(labels),
        np.array(sources),
        list(SENTIMENT_DEV_SETS),
        texts,
    )


def sample_weights(y: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Balanced classes within each source; each source sums to the same weight."""
    w = np.zeros(len(y))
    names = sorted(set(sources.tolist()))
    for s in names:
        in_source = sources == s
        present = [k for k in range(len(LABELS)) if np.any(in_source & (y == k))]
        for k in present:
            idx = in_source & (y == k)
            w[idx] = 1.0 / (len(present) * idx.sum())
    return w * len(y) / len(names)


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float, iterations: int = 25) -> np.ndarray:
    """Weighted multinomial logistic regression, L2 on the non-bias weights, by Newton's method."""
    n, d = x.shape
    k = len(LABELS)
    xb = np.concatenate([x, np.ones((n, 1))], axis=1)
    onehot = np.eye(k)[y]
    theta = np.zeros((k, d + 1))
    reg = np.full(d + 1, lam)
    reg[-1] = 1e-6
    total = w.sum()
    for _ in range(iterations):
        logits = xb @ theta.T
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        grad = ((p - onehot) * w[:, None]).T @ xb / total + theta * reg
        hess = np.zeros((k * (d + 1), k * (d + 1)))
        for a in range(k):
            for b in range(a, k):
                coef = w * p[:, a] * ((1.0 if a == b else 0.0) - p[:, b]) / total
                block = (xb * coef[:, None]).T @ xb
                if a == b:
                    block += np.diag(reg)
                hess[a * (d + 1) : (a + 1) * (d + 1), b * (d + 1) : (b + 1) * (d + 1)] = block
                hess[b * (d + 1) : (b + 1) * (d + 1), a * (d + 1) : (a + 1) * (d + 1)] = block.T
        step = np.linalg.solve(hess, grad.reshape(-1))
        theta -= step.reshape(k, d + 1)
        if np.abs(step).max() < 1e-8:
            break
    return theta


def predict(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.argmax(x @ theta[:, :-1].T + theta[:, -1], axis=1)


def folds(sources: np.ndarray) -> np.ndarray:
    """Deterministic fold ids: every FOLDS-th row of each source."""
    fold = np.zeros(len(sources), dtype=int)
    for s in sorted(set(sources.tolist())):
        idx = np.flatnonzero(sources == s)
        fold[idx] = np.arange(len(idx)) % FOLDS
    return fold


def standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    std = x.std(axis=0) + 1e-6
    return (x - mean) / std, mean, std


def fold_scaling(theta: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Weights for raw features: W' = W / std, b' = b - W' . mean."""
    w = theta[:, :-1] / std
    b = theta[:, -1] - w @ mean
    return np.concatenate([w, b[:, None]], axis=1)


def per_source_f1(y: np.ndarray, pred: np.ndarray, sources: np.ndarray, names: list[str]) -> dict[str, float]:
    return {
        s: round(macro_f1([LABELS[i] for i in y[sources == s]], [LABELS[i] for i in pred[sources == s]]), 4)
        for s in names
    }


def tune_vader(texts: list[str], y: np.ndarray, sources: np.ndarray, names: list[str]) -> tuple[float, float, float]:
    vader = load_vader()
    compound = np.array([vader.scores(t)["compound"] for t in texts])
    best = (-1.0, 0.05, -0.05)
    for pos in POSITIVE_CUTS:
        for neg in NEGATIVE_CUTS:
            pred = np.where(compound >= pos, 2, np.where(compound <= neg, 0, 1))
            score = float(np.mean(list(per_source_f1(y, pred, sources, names).values())))
            if score > best[0] + 1e-12:
                best = (score, pos, neg)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--check", action="store_true", help="fail unless the shipped files are reproduced")
    parser.add_argument("--out-dir", type=Path, default=WEIGHTS_FILE.parent)
    args = parser.parse_args()

    x, y, sources, names, texts = load_dev(args.data_dir)
    w = sample_weights(y, sources)
    print(f"development rows: {len(y)} from {', '.join(names)}")

    vader_score, pos_cut, neg_cut = tune_vader(texts, y, sources, names)
    print(
        f"tuned VADER cut-offs on dev: positive >= {pos_cut}, negative <= {neg_cut} "
        f"(mean dev macro-F1 {vader_score:.4f})"
    )

    fold = folds(sources)
    cv: dict[str, dict[str, float]] = {}
    for lam in LAMBDAS:
        pred = np.zeros(len(y), dtype=int)
        for f in range(FOLDS):
            train, held = fold != f, fold == f
            xs, mean, std = standardise(x[train])
            theta = fit(xs, y[train], w[train], lam / len(y))
            pred[held] = predict(fold_scaling(theta, mean, std), x[held])
        scores = per_source_f1(y, pred, sources, names)
        cv[str(lam)] = scores
        print(
            f"lambda={lam:<5} cv macro-F1 "
            + "  ".join(f"{s}={v:.3f}" for s, v in scores.items())
            + f"  mean={np.mean(list(scores.values())):.4f}"
        )
    best_lam = max(LAMBDAS, key=lambda lam: (np.mean(list(cv[str(lam)].values())), -lam))
    print(f"chosen lambda={best_lam}")

    xs, mean, std = standardise(x)
    theta = fold_scaling(fit(xs, y, w, best_lam / len(y)), mean, std).astype(np.float32)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    weights_path = args.out_dir / WEIGHTS_FILE.name
    meta_path = args.out_dir / META_FILE.name
    buffer = io.BytesIO()
    np.save(buffer, theta, allow_pickle=False)
    weights_bytes = buffer.getvalue()
    digest = hashlib.sha256(weights_bytes).hexdigest()
    meta = {
        "labels": list(LABELS),
        "features": "MiniLM-L6-v2 int8 embedding (384) + tuned VADER compound, pos, neg, neu (4); "
        "last column is the bias",
        "model": "multinomial logistic regression, L2, Newton; class-balanced within source, sources weighted equally",
        "l2_lambda": best_lam,
        "trained_on": {s: int((sources == s).sum()) for s in names},
        "cross_validation_macro_f1": cv,
        "vader_cutoffs": {"positive": pos_cut, "negative": neg_cut, "mean_dev_macro_f1": round(vader_score, 4)},
        "weights_sha256": digest,
        "script": "scripts/train_sentiment.py",
    }
    meta_text = json.dumps(meta, indent=2, sort_keys=True) + "\n"
    if args.check:
        same = weights_path.read_bytes() == weights_bytes and meta_path.read_text() == meta_text
        print("reproduced byte for byte" if same else "MISMATCH: shipped files differ from a fresh training run")
        return 0 if same else 1
    weights_path.write_bytes(weights_bytes)
    meta_path.write_text(meta_text, encoding="utf-8")
    print(f"wrote {weights_path} ({weights_path.stat().st_size} bytes, sha256 {digest[:16]}…) and {meta_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
