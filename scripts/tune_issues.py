"""Tune the issue detector's threshold and cue weight on development splits only.

    .venv/bin/python scripts/tune_issues.py [--data-dir ../shared/data] [--sample 1500]

Positives: BANKING77 train queries and the customer's opening turn of the TwACS
dev contacts. Negatives: TwACS dev agent replies and MELD train/dev utterances.
The objective is mean recall on the positives minus mean firing rate on the
negatives (Youden's J, averaged over sets). Prints the best pair; the chosen
values are the defaults in ``livelens/analysis/issues.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from livelens.analysis.evaluation import datasets
from livelens.analysis.evaluation.cache import embed_cached
from livelens.analysis.issues import load_issue_detector


def sentence_scores(texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per text: cue weight and similarity margin of each sentence."""
    detector = load_issue_detector()
    spans = [detector.sentences(t)[:8] for t in texts]
    pieces = [t[b:e] for t, ss in zip(texts, spans, strict=True) for b, e in ss]
    margins = detector.similarity_margins(embed_cached(pieces)) if pieces else np.zeros(0)
    out, k = [], 0
    for t, ss in zip(texts, spans, strict=True):
        cues = np.array(detector.cue_scores(t, ss)) if ss else np.zeros(0)
        out.append((cues, margins[k : k + len(ss)]))
        k += len(ss)
    return out


def rate(scores: list[tuple[np.ndarray, np.ndarray]], threshold: float, weight: float) -> float:
    hits = sum(1 for c, m in scores if len(c) and np.max(weight * c + m) >= threshold)
    return hits / max(1, len(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=datasets.default_data_dir())
    parser.add_argument("--sample", type=int, default=1500)
    args = parser.parse_args()
    rng = np.random.default_rng(0)

    def sample(texts: list[str]) -> list[str]:
        if len(texts) <= args.sample:
            return texts
        return [texts[i] for i in sorted(rng.choice(len(texts), args.sample, replace=False))]

    contacts = datasets.twacs(args.data_dir, "dev")
    sets = {
        "banking77-train": (sample([r.text for r in datasets.banking77(args.data_dir, "train")]), True),
        "twacs-dev-opening": ([c.turns[0][1] for c in contacts if c.turns and c.turns[0][0] == "CUSTOMER"], True),
        "twacs-dev-agent": (sample([t for c in contacts for r, t in c.turns if r == "AGENT"]), False),
        "meld-train+dev": (
            sample([u.text for split in ("train", "dev") for u in datasets.meld_utterances(args.data_dir, split)]),
            False,
        ),
    }
    scored = {name: (sentence_scores(texts), positive) for name, (texts, positive) in sets.items()}
    best = None
    for weight in np.arange(0.0, 0.41, 0.05):
        for threshold in np.arange(0.0, 0.51, 0.025):
            rates = {n: rate(s, threshold, weight) for n, (s, _) in scored.items()}
            pos = np.mean([rates[n] for n, (_, p) in scored.items() if p])
            neg = np.mean([rates[n] for n, (_, p) in scored.items() if not p])
            j = pos - neg
            if best is None or j > best[0] + 1e-9:
                best = (j, round(float(threshold), 3), round(float(weight), 3), rates)
    assert best is not None
    j, threshold, weight, rates = best
    print(f"best: threshold={threshold} cue_weight={weight}  J={j:.3f}")
    for name, value in rates.items():
        print(f"  {name:<20} {'recall' if scored[name][1] else 'fires'} {value:.1%}")


if __name__ == "__main__":
    main()
