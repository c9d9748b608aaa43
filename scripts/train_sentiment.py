"""Train livelens' sentiment classifier from development splits only.

    .venv/bin/python scripts/train_sentiment.py [--data-dir ../shared/data] [--check]
        [--exclude-sources meld-train,meld-dev --out-dir DIR]

Features: the MiniLM int8 sentence embedding (384), the tuned-VADER scores
(compound, pos, neg, neu) and hashed word 1-2-gram / character 3-5-gram
features (``sentiment.lexical_features``, 65,536 buckets). Model: multinomial
logistic regression with L2 penalties, class-balanced weights inside each
source and every source weighted equally, so that MELD's 10,000 sitcom lines
do not drown the 720 DynaSent round-2 sentences. The L2 strength of the dense
part (embedding + VADER) is chosen first, by cross-validating a dense-only
model fitted exactly by Newton's method; the joint dense + hashed model is
then fitted by L-BFGS (deterministic: fixed start, fixed iteration budget,
Armijo backtracking) and its hashed-feature L2 strength is cross-validated.
Development data: DynaSent R1/R2 dev, DynaSent's re-validated SST dev,
MELD train and dev, TweetEval validation.

Model selection (the L2 strength and the VADER cut-offs) uses 5-fold
cross-validation over the development data; no test split is read. The
fitted standardisation is folded into the weights, so at run time the model
is one matrix product plus a gather of the hashed buckets. Output:
``src/livelens/analysis/data/sentiment_minilm.npy`` (3 x 389 float32),
``sentiment_lexical.npy`` (65536 x 3 float32) and ``sentiment_minilm.json`` (metadata). ``--check``
retrains and fails unless the shipped files are reproduced byte for byte.

``--exclude-sources`` trains on the other sources only (the licence question of issue 13: can the head
be built without MELD's GPL-3.0 text?). The excluded sets are still loaded and cross-validated on the
same folds, but as held-out sets: no fold's model, no VADER cut-off and no L2 choice sees them, so their
scores say how a head trained without them does on them. Such a run must write to ``--out-dir``.
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
from livelens.analysis.sentiment import LABELS, LEXICAL_FILE, META_FILE, WEIGHTS_FILE, lexical_features, load_vader

LAMBDAS = (100.0, 300.0, 1000.0, 3000.0, 10000.0)
FOLDS = 5
POSITIVE_CUTS = tuple(round(x, 2) for x in np.arange(0.05, 0.66, 0.05))
NEGATIVE_CUTS = tuple(round(-x, 2) for x in np.arange(0.05, 0.66, 0.05))
HASH_DIM = 65536
LEXICAL_LAMBDAS = (1e-4, 3e-4)
LBFGS_ITERATIONS = 120


class Sparse:
    """Rows of hashed features in CSR form, with the two products L-BFGS needs."""

    def __init__(self, rows: list[tuple[np.ndarray, np.ndarray]], dim: int) -> None:
        self.dim, self.n = dim, len(rows)
        lengths = np.array([len(r[0]) for r in rows], dtype=np.int64)
        self.rows = rows
        self.indices = np.concatenate([r[0] for r in rows])
        self.data = np.concatenate([r[1] for r in rows])
        self.row = np.repeat(np.arange(self.n), lengths)

    def take(self, mask: np.ndarray) -> Sparse:
        return Sparse([self.rows[i] for i in np.flatnonzero(mask)], self.dim)

    def dot(self, w: np.ndarray) -> np.ndarray:
        prod = w[self.indices] * self.data[:, None]
        return np.stack([np.bincount(self.row, prod[:, k], self.n) for k in range(w.shape[1])], axis=1)

    def tdot(self, g: np.ndarray) -> np.ndarray:
        return np.stack(
            [np.bincount(self.indices, self.data * g[self.row, k], self.dim) for k in range(g.shape[1])], axis=1
        )


def fit_joint(
    sparse: Sparse, dense: np.ndarray, y: np.ndarray, w: np.ndarray, lam_sparse: float, lam_dense: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted multinomial LR on [hashed, dense] by L-BFGS; returns (sparse W, dense V, bias b)."""
    k, d_s, d_d = len(LABELS), sparse.dim, dense.shape[1]
    onehot = np.eye(k)[y]
    total = w.sum()

    def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            theta[: d_s * k].reshape(d_s, k),
            theta[d_s * k : (d_s + d_d) * k].reshape(d_d, k),
            theta[(d_s + d_d) * k :],
        )

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        ws, wd, b = unpack(theta)
        z = sparse.dot(ws) + dense @ wd + b
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1))[:, None]
        loss = -(w * (logp * onehot).sum(axis=1)).sum() / total
        loss += 0.5 * lam_sparse * (ws * ws).sum() + 0.5 * lam_dense * (wd * wd).sum()
        g = (np.exp(logp) - onehot) * w[:, None] / total
        grad = np.concatenate(
            [(sparse.tdot(g) + lam_sparse * ws).ravel(), (dense.T @ g + lam_dense * wd).ravel(), g.sum(axis=0)]
        )
        return float(loss), grad

    theta = np.zeros((d_s + d_d + 1) * k)
    f, g = loss_grad(theta)
    history: list[tuple[np.ndarray, np.ndarray]] = []
    for _ in range(LBFGS_ITERATIONS):
        q = g.copy()
        alphas = []
        for s_i, y_i in reversed(history):
            a = (s_i @ q) / (y_i @ s_i)
            alphas.append(a)
            q -= a * y_i
        if history:
            q *= (history[-1][0] @ history[-1][1]) / (history[-1][1] @ history[-1][1])
        for (s_i, y_i), a in zip(history, reversed(alphas), strict=True):
            q += s_i * (a - (y_i @ q) / (y_i @ s_i))
        direction = -q
        step = 1.0 if history else 1.0 / max(1e-12, float(np.abs(g).max()))
        slope = g @ direction
        while True:
            candidate = theta + step * direction
            f_new, g_new = loss_grad(candidate)
            if f_new <= f + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s_k, y_k = candidate - theta, g_new - g
        if s_k @ y_k > 1e-12:
            history = (history + [(s_k, y_k)])[-10:]
        theta, f, g = candidate, f_new, g_new
        if np.abs(g).max() < 1e-7:
            break
    return unpack(theta)


def parse_sources(text: str) -> tuple[str, ...]:
    """Comma-separated development source names, each one of ``SENTIMENT_DEV_SETS``."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in SENTIMENT_DEV_SETS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown source(s) {unknown}; choose from {', '.join(SENTIMENT_DEV_SETS)}")
    return names


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


def sample_weights(y: np.ndarray, sources: np.ndarray, trained: np.ndarray | None = None) -> np.ndarray:
    """Balanced classes within each source; each source sums to the same weight.

    Rows outside ``trained`` (the sources left out of training) get weight 0 and do not count."""
    if trained is not None and not trained.all():
        w = np.zeros(len(y))
        w[trained] = sample_weights(y[trained], sources[trained])
        return w
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


def folds(sources: np.ndarray, seed: int | None = None) -> np.ndarray:
    """Deterministic fold ids: every FOLDS-th row of each source, or with ``seed`` a seeded shuffle of them.

    The shuffled folds measure how much the cross-validated scores move with the split alone (the noise
    a comparison of two encoders has to clear); the shipped model is selected on the unshuffled ones.
    """
    fold = np.zeros(len(sources), dtype=int)
    rng = np.random.default_rng(seed) if seed is not None else None
    for s in sorted(set(sources.tolist())):
        idx = np.flatnonzero(sources == s)
        ids = np.arange(len(idx)) % FOLDS
        fold[idx] = rng.permutation(ids) if rng is not None else ids
    return fold


def cv_joint_logits(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    sparse: Sparse,
    fold: np.ndarray,
    trained: np.ndarray,
    lam_sparse: float,
    lam_dense: float,
) -> np.ndarray:
    """Out-of-fold logits of the joint model: fold f's rows scored by a fit on the other folds' trained rows.

    Rows of sources outside ``trained`` are scored too, by fits that never saw any row of their source,
    so one pass gives the cross-validated scores of the trained sources and held-out scores of the rest.
    """
    logits = np.zeros((len(y), len(LABELS)))
    for f in range(FOLDS):
        train, held = (fold != f) & trained, fold == f
        xs, mean, std = standardise(x[train])
        ws, wd, b = fit_joint(sparse.take(train), xs, y[train], w[train], lam_sparse, lam_dense)
        logits[held] = sparse.take(held).dot(ws) + ((x[held] - mean) / std) @ wd + b
    return logits


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


def selection_mean(scores: dict[str, float], used: list[str]) -> float:
    """Mean cross-validated macro-F1 over the trained sources only: held-out sets never steer a choice."""
    return float(np.mean([scores[s] for s in used]))


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
    parser.add_argument("--fold-seed", type=int, default=None, help="shuffle the folds (noise runs only)")
    parser.add_argument(
        "--dense-lambda", type=float, default=None, help="fix the dense part's L2 strength instead of choosing it"
    )
    parser.add_argument(
        "--exclude-sources",
        type=parse_sources,
        default=(),
        help="comma-separated dev sources to leave out of training (still scored, as held-out sets)",
    )
    args = parser.parse_args()
    excluded: tuple[str, ...] = args.exclude_sources
    if excluded and (args.check or args.out_dir.resolve() == WEIGHTS_FILE.parent.resolve()):
        parser.error("--exclude-sources never replaces the shipped files: give another --out-dir, without --check")

    x, y, sources, names, texts = load_dev(args.data_dir)
    trained = ~np.isin(sources, excluded)
    used = [s for s in names if s not in excluded]
    n_trained = int(trained.sum())
    w = sample_weights(y, sources, trained)
    print(f"development rows: {len(y)} from {', '.join(names)}")
    if excluded:
        print(f"trained on {n_trained} rows from {', '.join(used)}; {', '.join(excluded)} scored as held-out sets")

    vader_score, pos_cut, neg_cut = tune_vader(texts, y, sources, used)
    print(
        f"tuned VADER cut-offs on dev: positive >= {pos_cut}, negative <= {neg_cut} "
        f"(mean dev macro-F1 {vader_score:.4f})"
    )

    fold = folds(sources, args.fold_seed)
    cv: dict[str, dict[str, float]] = {}
    for lam in LAMBDAS if args.dense_lambda is None else ():
        pred = np.zeros(len(y), dtype=int)
        for f in range(FOLDS):
            train, held = (fold != f) & trained, fold == f
            xs, mean, std = standardise(x[train])
            theta = fit(xs, y[train], w[train], lam / n_trained)
            pred[held] = predict(fold_scaling(theta, mean, std), x[held])
        scores = per_source_f1(y, pred, sources, names)
        cv[str(lam)] = scores
        print(
            f"lambda={lam:<5} cv macro-F1 "
            + "  ".join(f"{s}={v:.3f}" for s, v in scores.items())
            + f"  mean={selection_mean(scores, used):.4f}"
        )
    best_lam = args.dense_lambda or max(LAMBDAS, key=lambda lam: (selection_mean(cv[str(lam)], used), -lam))
    print(f"chosen lambda={best_lam}")

    sparse = Sparse([lexical_features(t, HASH_DIM) for t in texts], HASH_DIM)
    cv_joint: dict[str, dict[str, float]] = {}
    for lam_s in LEXICAL_LAMBDAS:
        logits = cv_joint_logits(x, y, w, sparse, fold, trained, lam_s, best_lam / n_trained)
        scores = per_source_f1(y, np.argmax(logits, axis=1), sources, names)
        cv_joint[str(lam_s)] = scores
        print(
            f"+ hashed n-grams, lambda={lam_s:<6} cv macro-F1 "
            + "  ".join(f"{s}={v:.3f}" for s, v in scores.items())
            + f"  mean={selection_mean(scores, used):.4f}"
        )
    best_lam_s = max(LEXICAL_LAMBDAS, key=lambda lam: (selection_mean(cv_joint[str(lam)], used), lam))
    print(f"chosen hashed-feature lambda={best_lam_s}")

    if trained.all():
        xs, mean, std = standardise(x)
        ws, wd, b = fit_joint(sparse, xs, y, w, best_lam_s, best_lam / n_trained)
    else:
        xs, mean, std = standardise(x[trained])
        ws, wd, b = fit_joint(sparse.take(trained), xs, y[trained], w[trained], best_lam_s, best_lam / n_trained)
    theta = fold_scaling(np.concatenate([wd.T, b[:, None]], axis=1), mean, std).astype(np.float32)
    lexical = ws.astype(np.float32)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    weights_path = args.out_dir / WEIGHTS_FILE.name
    meta_path = args.out_dir / META_FILE.name
    lexical_path = args.out_dir / LEXICAL_FILE.name
    buffer = io.BytesIO()
    np.save(buffer, theta, allow_pickle=False)
    weights_bytes = buffer.getvalue()
    digest = hashlib.sha256(weights_bytes).hexdigest()
    buffer = io.BytesIO()
    np.save(buffer, lexical, allow_pickle=False)
    lexical_bytes = buffer.getvalue()
    meta = {
        "labels": list(LABELS),
        "features": "MiniLM-L6-v2 int8 embedding (384) + tuned VADER compound, pos, neg, neu (4); "
        "last column is the bias; plus hashed word 1-2-grams and char 3-5-grams in sentiment_lexical.npy",
        "model": "multinomial logistic regression, L2, L-BFGS on [hashed n-grams, embedding, VADER]; "
        "class-balanced within source, sources weighted equally",
        "l2_lambda": best_lam,
        "cross_validation_macro_f1_with_hashed_ngrams": cv_joint,
        "hashed_ngrams": {
            "buckets": HASH_DIM,
            "l2_lambda": best_lam_s,
            "lbfgs_iterations": LBFGS_ITERATIONS,
            "weights_sha256": hashlib.sha256(lexical_bytes).hexdigest(),
        },
        "trained_on": {s: int((sources == s).sum()) for s in used},
        "cross_validation_macro_f1": cv,
        "vader_cutoffs": {"positive": pos_cut, "negative": neg_cut, "mean_dev_macro_f1": round(vader_score, 4)},
        "weights_sha256": digest,
        "script": "scripts/train_sentiment.py",
    }
    if excluded:
        meta["excluded_sources_scored_held_out"] = list(excluded)
    meta_text = json.dumps(meta, indent=2, sort_keys=True) + "\n"
    if args.check:
        same = (
            weights_path.read_bytes() == weights_bytes
            and lexical_path.exists()
            and lexical_path.read_bytes() == lexical_bytes
            and meta_path.read_text() == meta_text
        )
        print("reproduced byte for byte" if same else "MISMATCH: shipped files differ from a fresh training run")
        return 0 if same else 1
    weights_path.write_bytes(weights_bytes)
    lexical_path.write_bytes(lexical_bytes)
    meta_path.write_text(meta_text, encoding="utf-8")
    print(f"wrote {weights_path} ({weights_path.stat().st_size} bytes, sha256 {digest[:16]}…) and {meta_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
