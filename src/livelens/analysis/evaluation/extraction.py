"""Information extraction measured on the Schema-Guided Dialogue dev split (``sgd/``, CC BY-SA 4.0).

One item per USER-turn slot span, as the data's README says: the hint is the
slot's ``description`` in ``schema.json``, the value is
``utterance[start:exclusive_end]``, the context is the conversation up to and
including that turn (USER → CUSTOMER, SYSTEM → AGENT). Scores per kind of value
(the kind :func:`livelens.analysis.extraction.value_kind` reads from the hint):
exact match and token F1 after SQuAD's normalisation (lower case, punctuation
and articles removed, whitespace collapsed).
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livelens.analysis.evaluate import Table
from livelens.analysis.extraction import ExtractedValue, Extraction, ExtractionTurn, Extractor, value_kind


@dataclass(frozen=True)
class ExtractionItem:
    dialogue_id: str
    hint: str
    value: str
    turns: tuple[ExtractionTurn, ...]


def load_sgd(folder: Path) -> Iterator[ExtractionItem]:
    schema = {s["service_name"]: {slot["name"]: slot for slot in s["slots"]}
              for s in json.loads((folder / "schema.json").read_text())}
    for path in sorted(folder.glob("dialogues_*.json")):
        for dialogue in json.loads(path.read_text()):
            turns: list[ExtractionTurn] = []
            for i, turn in enumerate(dialogue["turns"]):
                role = "CUSTOMER" if turn["speaker"] == "USER" else "AGENT"
                turns.append(ExtractionTurn(f"{dialogue['dialogue_id']}-{i}", role, turn["utterance"]))
                if role != "CUSTOMER":
                    continue
                for frame in turn["frames"]:
                    for slot in frame["slots"]:
                        hint = schema[frame["service"]][slot["slot"]]["description"]
                        value = turn["utterance"][slot["start"] : slot["exclusive_end"]]
                        yield ExtractionItem(dialogue["dialogue_id"], hint, value, tuple(turns))


def normalize(text: str) -> str:
    text = "".join(c for c in text.lower() if c not in set(string.punctuation))
    text = re.sub(r"\b(?:a|an|the)\b", " ", text)
    return " ".join(text.split())


def token_f1(gold: str, predicted: str) -> float:
    g, p = normalize(gold).split(), normalize(predicted).split()
    common = sum((Counter(g) & Counter(p)).values())
    if not g or not p or common == 0:
        return float(g == p)
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


class FirstEntityBaseline:
    """The naive extractor the offline one is compared with: the first named entity of the last customer turn."""

    def __init__(self, offline: Any) -> None:
        self.offline = offline  # shares its spaCy documents

    def extract(self, hint: str, turns: Sequence[ExtractionTurn]) -> Extraction:
        last = next((t for t in reversed(turns) if t.role == "CUSTOMER"), None)
        if last is None:
            return Extraction()
        ents = list(self.offline.nlp(last.text).ents)
        if not ents:
            return Extraction()
        e = ents[0]
        return Extraction((ExtractedValue(e.text, last, e.start_char, e.end_char),))


@dataclass
class Score:
    items: int = 0
    exact: int = 0
    f1: float = 0.0
    found: int = 0


def score(extractor: Extractor, items: list[ExtractionItem]) -> dict[str, Score]:
    """Per kind of value, and ``"all"``."""
    scores: dict[str, Score] = defaultdict(Score)
    for item in items:
        result = extractor.extract(item.hint, item.turns)
        predicted = result.values[0].content if result.values else ""
        for key in (value_kind(item.hint), "all"):
            s = scores[key]
            s.items += 1
            s.found += bool(predicted)
            s.exact += normalize(predicted) == normalize(item.value)
            s.f1 += token_f1(item.value, predicted)
    return dict(scores)


def evaluate_extraction(data_dir: Path, limit: int | None = None) -> list[Table]:
    """The SGD table of ``livelens eval`` (``--limit N``: every k-th item, so a quick run spans all services)."""
    from livelens.analysis.extraction import OfflineExtractor

    folder = data_dir / "sgd"
    if not folder.is_dir():
        return [Table("Information extraction (sgd)", ["note"], [[f"{folder} not found: skipped"]])]
    items = list(load_sgd(folder))
    if limit is not None and len(items) > limit:
        step = len(items) / limit
        items = [items[int(i * step)] for i in range(limit)]
    offline = OfflineExtractor()
    scores = score(offline, items)
    baseline = score(FirstEntityBaseline(offline), items)
    table = Table(
        f"Information extraction, offline extractor (SGD dev, {len(items)} USER slot spans)",
        ["kind of value", "items", "exact match", "token F1", "answered", "baseline EM", "baseline F1"],
    )
    for kind, s in sorted(scores.items(), key=lambda kv: (kv[0] == "all", -kv[1].items)):
        b = baseline[kind]
        table.rows.append([kind, str(s.items), f"{s.exact / s.items:.3f}", f"{s.f1 / s.items:.3f}",
                           f"{s.found / s.items:.3f}", f"{b.exact / b.items:.3f}", f"{b.f1 / b.items:.3f}"])
    table.notes.append("baseline: the first spaCy entity of the customer's last turn (the same run, same items).")
    table.notes.append("hint = the slot's schema description; value = the USER span; context = the dialogue up to and "
                       "including that turn; exact match and token F1 after SQuAD normalisation.")
    return [table]
