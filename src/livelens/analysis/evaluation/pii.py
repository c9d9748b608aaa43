"""Redaction quality: span recall per type, type-blind recall and character precision, with intervals.

Three kinds of material, reported apart:

* presidio-evaluator sentence sets **generated at evaluation time** with fresh seeds
  (:func:`generate_sets`; needs ``presidio-evaluator``, the ``eval`` extra, or another
  interpreter that has it, ``--pii-python``); the mean and spread over the seeds;
* a fixed file under ``pii-generated/`` (the shared development file);
* conversational PII: customer answers to an agent's request, with that request as context
  (the purpose-written pairs in ``tests/data/conversational_pii/`` and the ABCD sample's
  scenario values located in its turns).

A gold span counts as redacted when at least 80 % of its characters are; character precision
is the share of redacted characters that belong to a gold span. Characters of untargeted gold
spans (organisations, cities, titles …) count neither way. Intervals are 95 % percentile
bootstraps over sentences.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from livelens.analysis.evaluation.datasets import DialogueTurnExample, PiiExample
from livelens.analysis.evaluation.metrics import RedactionCounts, bootstrap_ratio, ci, count_redaction

#: presidio-evaluator's types -> livelens entity types (None: not redacted by livelens).
PII_TYPE_MAP: dict[str, str | None] = {
    "PERSON": "NAME",
    "STREET_ADDRESS": "ADDRESS",
    "ZIP_CODE": "ADDRESS",
    "CREDIT_CARD": "CREDIT_DEBIT_NUMBER",
    "PHONE_NUMBER": "PHONE",
    "EMAIL_ADDRESS": "EMAIL",
    "IBAN_CODE": "BANK_ACCOUNT_NUMBER",
    "IP_ADDRESS": "IP_ADDRESS",
    "US_DRIVER_LICENSE": "DRIVER_ID",
    "US_SSN": "SSN",
    "GPE": None,
    "ORGANIZATION": None,
    "DATE_TIME": None,
    "TITLE": None,
    "AGE": None,
    "NRP": None,
    "DOMAIN_NAME": None,
}
NAMES_AND_ADDRESSES = ("NAME", "ADDRESS")

Detect = Callable[[str, str | None], list[tuple[int, int]]]

# Run inside an interpreter that has presidio-evaluator; writes one JSONL file per seed.
_GENERATOR = r"""
import json, os, sys
os.environ.setdefault("HF_HUB_OFFLINE", "1")
from presidio_evaluator.data_generator import PresidioSentenceFaker
out, count = sys.argv[1], int(sys.argv[2])
for seed in map(int, sys.argv[3:]):
    faker = PresidioSentenceFaker("en_US", lower_case_ratio=0.05, random_seed=seed)
    with open(os.path.join(out, f"seed{seed}.jsonl"), "w", encoding="utf-8") as fh:
        for s in faker.generate_new_fake_sentences(num_samples=count):
            spans = [{"type": x.entity_type, "value": x.entity_value, "start": x.start_position,
                      "end": x.end_position} for x in s.spans]
            if any(s.full_text[x["start"]:x["end"]] != x["value"] for x in spans):
                continue
            fh.write(json.dumps({"text": s.full_text, "spans": spans}) + "\n")
"""


def generator_python(explicit: str | None = None) -> str | None:
    """The interpreter to generate sets with: ``explicit``, this one if it has presidio-evaluator, else None."""
    if explicit:
        return explicit
    import importlib.util

    return sys.executable if importlib.util.find_spec("presidio_evaluator") else None


def fresh_seeds(count: int = 5) -> list[int]:
    """Seeds nobody has tuned on: drawn at evaluation time (never 1, the shared dev file's, or 2)."""
    rng = random.SystemRandom()
    return [rng.randrange(1_000, 2**31) for _ in range(count)]


def generate_sets(python: str, seeds: Sequence[int], count: int) -> dict[int, list[PiiExample]]:
    """One presidio-evaluator set per seed (generated in a subprocess, into a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="livelens-pii-") as tmp:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        subprocess.run(
            [python, "-c", _GENERATOR, tmp, str(count), *map(str, seeds)],
            check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        sets = {}
        for seed in seeds:
            examples = []
            for line in (Path(tmp) / f"seed{seed}.jsonl").read_text(encoding="utf-8").splitlines():
                obj = json.loads(line)
                examples.append(PiiExample(obj["text"], tuple((s["start"], s["end"], s["type"]) for s in obj["spans"])))
            sets[seed] = examples
        return sets


def _generated_items(
    examples: Sequence[PiiExample], detect: Detect
) -> list[tuple[list[tuple[int, int, str | None]], list[tuple[int, int]]]]:
    return [([(s, e, PII_TYPE_MAP.get(t)) for s, e, t in ex.spans], detect(ex.text, None)) for ex in examples]


def _dialogue_items(
    examples: Sequence[DialogueTurnExample], detect: Detect, with_context: bool = True
) -> list[tuple[list[tuple[int, int, str | None]], list[tuple[int, int]]]]:
    return [
        (list(ex.spans), detect(ex.text, ex.prompt if with_context else None)) for ex in examples
    ]


def summarise(counts: RedactionCounts) -> dict[str, float]:
    """Recall per type, names-and-addresses, structured types, type-blind; character precision."""
    out: dict[str, float] = {}
    for t in counts.gold:
        g = sum(counts.gold[t])
        out[t] = sum(counts.found[t]) / g if g else float("nan")
    groups = {
        "names and addresses": [t for t in counts.gold if t in NAMES_AND_ADDRESSES],
        "structured types": [t for t in counts.gold if t not in NAMES_AND_ADDRESSES],
        "any PII (type-blind)": list(counts.gold),
    }
    for label, types in groups.items():
        g = sum(sum(counts.gold[t]) for t in types)
        out[label] = sum(sum(counts.found[t]) for t in types) / g if g else float("nan")
    r = sum(counts.redacted_chars)
    out["character precision"] = sum(counts.correct_chars) / r if r else float("nan")
    return out


def _interval(counts: RedactionCounts, key: str) -> tuple[float, float]:
    if key == "character precision":
        return bootstrap_ratio(counts.correct_chars, counts.redacted_chars)
    groups = {
        "names and addresses": [t for t in counts.gold if t in NAMES_AND_ADDRESSES],
        "structured types": [t for t in counts.gold if t not in NAMES_AND_ADDRESSES],
        "any PII (type-blind)": list(counts.gold),
    }
    types = groups.get(key, [key])
    n = len(counts.redacted_chars)
    found = [sum(counts.found[t][i] for t in types) for i in range(n)]
    gold = [sum(counts.gold[t][i] for t in types) for i in range(n)]
    return bootstrap_ratio(found, gold)


def _row_keys(counts: RedactionCounts) -> list[str]:
    types = sorted(counts.gold, key=lambda t: -sum(counts.gold[t]))
    return [*types, "names and addresses", "structured types", "any PII (type-blind)", "character precision"]


def _gold(counts: RedactionCounts, key: str) -> int:
    if key == "character precision":
        return sum(counts.redacted_chars)
    if key in counts.gold:
        return sum(counts.gold[key])
    if key == "names and addresses":
        return sum(sum(counts.gold[t]) for t in counts.gold if t in NAMES_AND_ADDRESSES)
    if key == "structured types":
        return sum(sum(counts.gold[t]) for t in counts.gold if t not in NAMES_AND_ADDRESSES)
    return sum(sum(v) for v in counts.gold.values())


def table_rows(
    columns: Sequence[tuple[str, RedactionCounts]], baseline: RedactionCounts | None = None
) -> list[list[str]]:
    """One row per type/group: gold count, then value [95 % CI] per column."""
    keys = _row_keys(columns[0][1])
    rows = []
    for key in keys:
        row = [key, str(_gold(columns[0][1], key))]
        for _, counts in columns:
            value = summarise(counts).get(key, float("nan"))
            row.append("–" if value != value else ci(value, _interval(counts, key)))
        if baseline is not None:
            value = summarise(baseline).get(key, float("nan"))
            row.append("–" if value != value else f"{value:.3f}")
        rows.append(row)
    return rows


def seeds_rows(per_seed: dict[int, RedactionCounts]) -> list[list[str]]:
    """Mean, standard deviation, min and max over the seeds of each figure."""
    summaries = {seed: summarise(c) for seed, c in per_seed.items()}
    first = next(iter(per_seed.values()))
    rows = []
    for key in _row_keys(first):
        values = [s[key] for s in summaries.values() if key in s and s[key] == s[key]]
        if not values:
            continue
        gold = statistics.mean(_gold(c, key) for c in per_seed.values())
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        mean = statistics.mean(values)
        rows.append([key, f"{gold:.0f}", f"{mean:.3f}", f"{sd:.3f}", f"{min(values):.3f}", f"{max(values):.3f}"])
    return rows


def timed(detect: Detect) -> tuple[Detect, list[float]]:
    """Wrap ``detect`` to record its time per call in milliseconds."""
    times: list[float] = []

    def wrapper(text: str, prompt: str | None) -> list[tuple[int, int]]:
        started = time.perf_counter()
        try:
            return detect(text, prompt)
        finally:
            times.append((time.perf_counter() - started) * 1000)

    return wrapper, times


def score_generated(examples: Sequence[PiiExample], detect: Detect) -> RedactionCounts:
    return count_redaction(_generated_items(examples, detect))


def score_dialogues(
    examples: Sequence[DialogueTurnExample], detect: Detect, with_context: bool = True
) -> RedactionCounts:
    return count_redaction(_dialogue_items(examples, detect, with_context))
