"""``scripts/train_sentiment.py --exclude-sources``: left-out sources weigh nothing and are scored held out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import train_sentiment as ts  # noqa: E402


def _toy(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, ts.Sparse]:
    """Two sources of 40 rows, three classes, a dense signal and a few hashed buckets."""
    rng = np.random.default_rng(seed)
    n = 80
    y = np.arange(n) % 3
    x = rng.normal(size=(n, 4)) + np.eye(3, 4)[y] * 2.0
    sources = np.array(["a"] * 40 + ["b"] * 40)
    rows = [(np.array([int(y[i]), 3 + i % 5]), np.array([1.0, 0.5])) for i in range(n)]
    return x, y, sources, ts.Sparse(rows, 16)


def test_sample_weights_give_excluded_rows_nothing_and_keep_the_others() -> None:
    _, y, sources, _ = _toy()
    trained = sources == "a"
    w = ts.sample_weights(y, sources, trained)
    assert np.all(w[~trained] == 0)
    assert np.allclose(w[trained], ts.sample_weights(y[trained], sources[trained]))
    assert np.array_equal(ts.sample_weights(y, sources, np.ones(len(y), bool)), ts.sample_weights(y, sources))


def test_excluded_rows_never_reach_a_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ts, "LBFGS_ITERATIONS", 15)
    x, y, sources, sparse = _toy()
    trained = sources == "a"
    fold = ts.folds(sources)
    w = ts.sample_weights(y, sources, trained)
    first = ts.cv_joint_logits(x, y, w, sparse, fold, trained, 1e-3, 1e-2)
    flipped = y.copy()
    flipped[~trained] = (flipped[~trained] + 1) % 3
    x_moved = x.copy()
    x_moved[~trained] += 100.0
    second = ts.cv_joint_logits(x_moved, flipped, w, sparse, fold, trained, 1e-3, 1e-2)
    all_rows = np.ones(len(y), dtype=bool)
    everything = ts.cv_joint_logits(x, y, ts.sample_weights(y, sources), sparse, fold, all_rows, 1e-3, 1e-2)
    assert np.allclose(first[trained], second[trained]), "labels or features of source b moved source a's scores"
    assert np.all(first[~trained] != 0), "held-out rows are scored too"
    assert not np.allclose(first[~trained], everything[~trained]), "training on source b changes its scores"


def test_unknown_source_names_are_refused() -> None:
    assert ts.parse_sources("meld-train, meld-dev") == ("meld-train", "meld-dev")
    with pytest.raises(argparse.ArgumentTypeError):
        ts.parse_sources("meld-test")
