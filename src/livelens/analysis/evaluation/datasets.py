"""Readers for the evaluation data under ``shared/data``.

Each reader takes the data directory (the folder holding ``dynasent/``,
``meld/`` …) and returns plain Python values. Nothing is cached on disk here
and nothing is copied out of the data directory.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from livelens.analysis.types import Sentiment

_LABELS: dict[str, Sentiment] = {
    "positive": "POSITIVE",
    "neutral": "NEUTRAL",
    "negative": "NEGATIVE",
}
_TWEETEVAL_IDS: dict[str, Sentiment] = {"0": "NEGATIVE", "1": "NEUTRAL", "2": "POSITIVE"}

#: Sentiment splits used for training (development) and for the report (held-out test).
SENTIMENT_DEV_SETS = ("dynasent-r1-dev", "dynasent-r2-dev", "sst-dev", "meld-train", "meld-dev", "tweeteval-val")
SENTIMENT_TEST_SETS = ("dynasent-r1-test", "dynasent-r2-test", "meld-test", "tweeteval-test")


def default_data_dir() -> Path:
    """``$LIVELENS_DATA_DIR``, else ``../shared/data`` relative to the cwd."""
    env = os.environ.get("LIVELENS_DATA_DIR")
    return Path(env) if env else Path.cwd().parent / "shared" / "data"


@dataclass(frozen=True)
class LabelledText:
    text: str
    label: str


def sentiment_set(data_dir: Path, name: str) -> list[LabelledText]:
    """One of :data:`SENTIMENT_DEV_SETS` or :data:`SENTIMENT_TEST_SETS`.

    ``sst-dev`` is DynaSent's re-validated SST dev file; its ``mixed`` and
    no-majority rows are left out.
    """
    if name.startswith("dynasent-") or name == "sst-dev":
        if name == "sst-dev":
            path = data_dir / "dynasent" / "sst-dev-validated.jsonl"
        else:
            _, rnd, split = name.split("-")
            stem = {"r1": "round01-yelp", "r2": "round02-dynabench"}[rnd]
            path = data_dir / "dynasent" / f"dynasent-v1.1-{stem}-{split}.jsonl"
        rows = []
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                obj = json.loads(line)
                label = _LABELS.get(str(obj.get("gold_label")))
                if label is not None:
                    rows.append(LabelledText(obj["sentence"], label))
        return rows
    if name.startswith("meld-"):
        split = name.split("-")[1]
        return [LabelledText(u.text, u.label) for u in meld_utterances(data_dir, split)]
    if name.startswith("tweeteval-"):
        split = {"val": "val", "test": "test"}[name.split("-")[1]]
        folder = data_dir / "tweeteval-sentiment"
        texts = (folder / f"{split}_text.txt").read_text(encoding="utf-8").split("\n")
        labels = (folder / f"{split}_labels.txt").read_text(encoding="utf-8").split("\n")
        return [
            LabelledText(t, _TWEETEVAL_IDS[lab.strip()]) for t, lab in zip(texts, labels, strict=False) if lab.strip()
        ]
    raise ValueError(f"unknown sentiment data set {name!r}")


@dataclass(frozen=True)
class MeldUtterance:
    dialogue: int
    index: int
    speaker: str
    text: str
    label: str


def meld_utterances(data_dir: Path, split: str) -> list[MeldUtterance]:
    """MELD utterances of ``split`` (train/dev/test), in dialogue order."""
    path = data_dir / "meld" / f"{split}_sent_emo.csv"
    rows = []
    with path.open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            text = r["Utterance"].replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
            rows.append(
                MeldUtterance(
                    int(r["Dialogue_ID"]), int(r["Utterance_ID"]), r["Speaker"], text, _LABELS[r["Sentiment"]]
                )
            )
    rows.sort(key=lambda u: (u.dialogue, u.index))
    return rows


def banking77(data_dir: Path, split: str) -> list[LabelledText]:
    """BANKING77 ``train`` (development) or ``test`` (held out)."""
    with (data_dir / "banking77" / f"{split}.csv").open(encoding="utf-8", newline="") as fh:
        return [LabelledText(r["text"], r["category"]) for r in csv.DictReader(fh)]


@dataclass(frozen=True)
class TwacsContact:
    contact_id: str
    tag: str
    turns: tuple[tuple[str, str], ...]  # (role, text); role is CUSTOMER or AGENT


_TWACS_TURN = re.compile(r"<(cust|rep)__(.*?)__(?:cust|rep)>", re.S)
_TWACS_HANDLE = re.compile(r"__(?:cust|company)__")


def _twacs_turns(raw: str) -> Iterator[tuple[str, str]]:
    for who, text in _TWACS_TURN.findall(raw):
        clean = " ".join(_TWACS_HANDLE.sub(" ", text).split())
        if clean:
            yield ("CUSTOMER" if who == "cust" else "AGENT", clean)


def twacs(data_dir: Path, split: str) -> list[TwacsContact]:
    """Labelled TwACS contacts, ``dev`` or ``test``; the first turn is the customer's opening."""
    path = data_dir / "twacs" / f"twacs_labelled.{split}.csv"
    out = []
    with path.open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            turns = tuple(_twacs_turns(r["first_utterance"])) + tuple(_twacs_turns(r["context"]))
            out.append(TwacsContact(r["first_tweet_id"], r["tag"], turns))
    return out


@dataclass(frozen=True)
class Dialogue:
    fname: str
    turns: tuple[tuple[str, str], ...]  # (speaker tag, text)
    references: tuple[str, ...]


def dialogsum(data_dir: Path, split: str) -> list[Dialogue]:
    """DialogSum ``dev`` (one reference) or ``test`` (three references)."""
    out = []
    with (data_dir / "dialogsum" / f"dialogsum.{split}.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            turns = []
            for raw in obj["dialogue"].split("\n"):
                speaker, sep, text = raw.partition(": ")
                if sep and text.strip():
                    turns.append((speaker.strip(), text.strip()))
            refs = [obj[k] for k in ("summary", "summary1", "summary2", "summary3") if k in obj]
            out.append(Dialogue(obj["fname"], tuple(turns), tuple(refs)))
    return out


@dataclass(frozen=True)
class PiiExample:
    text: str
    spans: tuple[tuple[int, int, str], ...]  # (start, end, upstream type)


def pii_generated(data_dir: Path, name: str = "dev") -> list[PiiExample]:
    """Sentences of ``pii-generated/<name>.jsonl`` with their labelled spans."""
    out = []
    with (data_dir / "pii-generated" / f"{name}.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            spans = tuple((s["start"], s["end"], s["type"]) for s in obj["spans"])
            out.append(PiiExample(obj["text"], spans))
    return out


@dataclass(frozen=True)
class DialogueTurnExample:
    """A customer turn with the preceding agent turn, and its PII spans (livelens entity types)."""

    prompt: str
    text: str
    spans: tuple[tuple[int, int, str], ...]
    source: str


def conversational_pii(cases_dir: Path, split: str) -> list[DialogueTurnExample]:
    """The purpose-written agent-question / customer-answer pairs (``conversational_pii/<split>.jsonl``)."""
    out = []
    path = cases_dir / "conversational_pii" / f"{split}.jsonl"
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            obj = json.loads(line)
            spans = []
            for entity, value in obj["pii"]:
                start = obj["customer"].find(value)
                if start < 0:
                    raise ValueError(f"{path}:{number}: {value!r} is not in the customer turn")
                spans.append((start, start + len(value), entity))
            out.append(DialogueTurnExample(obj["agent"], obj["customer"], tuple(spans), "written"))
    return out


#: ABCD scenario fields that are PII, with their livelens entity type.
_ABCD_FIELDS = {
    ("personal", "customer_name"): "NAME",
    ("personal", "email"): "EMAIL",
    ("personal", "phone"): "PHONE",
    ("order", "full_address"): "ADDRESS",
    ("order", "street_address"): "ADDRESS",
    ("order", "zip_code"): "ADDRESS",
}


def abcd_pii(data_dir: Path) -> list[DialogueTurnExample]:
    """Customer turns of the ABCD sample with the scenario's PII located in them (case-insensitive).

    Every customer turn is kept (most hold no PII), each with the latest agent turn before it.
    """
    dialogues = json.loads((data_dir / "abcd" / "abcd_sample.json").read_text(encoding="utf-8"))
    out = []
    for dialogue in dialogues:
        scenario = dialogue["scenario"]
        values = []
        for (section, key), entity in _ABCD_FIELDS.items():
            value = str(scenario.get(section, {}).get(key) or "").strip()
            if value:
                values.append((" ".join(value.split()), entity))
        prompt = ""
        for speaker, text in dialogue["original"]:
            if speaker == "agent":
                prompt = text
            elif speaker == "customer":
                spans: list[tuple[int, int, str]] = []
                lower = text.lower()
                for value, entity in sorted(values, key=lambda v: -len(v[0])):
                    start = lower.find(value.lower())
                    if start >= 0 and not any(s < start + len(value) and start < e for s, e, _ in spans):
                        spans.append((start, start + len(value), entity))
                out.append(DialogueTurnExample(prompt, text, tuple(sorted(spans)), "abcd"))
    return out
