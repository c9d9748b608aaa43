"""``livelens eval``: every analyser measured on the public data sets, beside baselines.

All numbers come from held-out test splits (DynaSent R1/R2 test, MELD test,
TweetEval test, BANKING77 test, TwACS labelled test, DialogSum test); the
development splits were used for training and tuning only. The PII figures
come from ``pii-generated/<name>.jsonl`` (synthetic; pass another file name
to score a set generated with another seed).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from livelens.analysis.evaluation import datasets
from livelens.analysis.evaluation import pii as pii_eval
from livelens.analysis.evaluation.metrics import (
    PRF,
    bootstrap_macro_f1,
    bootstrap_mean,
    ci,
    macro_f1,
    rouge_multi,
)
from livelens.analysis.evaluation.pii import PII_TYPE_MAP

SECTIONS = ("sentiment", "issues", "pii", "summary", "extraction")
T = TypeVar("T")


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        widths = [max(len(str(c)), *(len(str(r[i])) for r in self.rows)) for i, c in enumerate(self.columns)]
        line = "| " + " | ".join(str(c).ljust(w) for c, w in zip(self.columns, widths, strict=True)) + " |"
        sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        body = ["| " + " | ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) + " |" for r in self.rows]
        notes = [f"  {n}" for n in self.notes]
        return "\n".join([f"## {self.title}", "", line, sep, *body, *([""] + notes if notes else [])])


def _subsample(rows: list[T], limit: int | None) -> list[T]:
    """Every k-th row, so a quick run still spans the whole file (and all classes)."""
    if limit is None or len(rows) <= limit:
        return rows
    step = len(rows) / limit
    return [rows[int(i * step)] for i in range(limit)]


def _fmt(x: float) -> str:
    return f"{x:.3f}"


# ---------------------------------------------------------------- sentiment


def evaluate_sentiment(data_dir: Path, limit: int | None = None) -> list[Table]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from livelens.analysis.evaluation.cache import embed_cached
    from livelens.analysis.sentiment import LABELS, TunedVader, load_linear_model, load_vader, minilm_features

    plain = SentimentIntensityAnalyzer()
    tuned = load_vader()
    model = load_linear_model()
    table = Table(
        "Sentiment: macro-F1 on held-out test splits",
        [
            "test set",
            "n",
            "VADER ±0.05",
            "VADER tuned",
            "MiniLM+VADER+n-gram LR (shipped) [95% CI]",
            "gain vs VADER ±0.05",
        ],
    )
    latency_texts: list[str] = []
    for name in datasets.SENTIMENT_TEST_SETS:
        rows = _subsample(datasets.sentiment_set(data_dir, name), limit)
        gold = [r.label for r in rows]
        texts = [r.text for r in rows]
        latency_texts.extend(texts[:50])
        base = [TunedVader.label(plain.polarity_scores(t)["compound"], 0.05, -0.05) for t in texts]
        # Our VADER: the contact-centre rewrites plus the cut-offs tuned on development data.
        vader_feats = np.stack([tuned.features(t) for t in texts])
        ours_vader = [TunedVader.label(float(f[0])) for f in vader_feats]
        domain = np.array([tuned.domain_valence(t) for t in texts], dtype=np.float32)
        probs = model.probabilities(minilm_features(embed_cached(texts), vader_feats), domain, texts)
        ours = [LABELS[int(i)] for i in np.argmax(probs, axis=1)]
        f_base, f_vader, f_ours = (macro_f1(gold, p, LABELS) for p in (base, ours_vader, ours))
        shipped = ci(f_ours, bootstrap_macro_f1(gold, ours, LABELS))
        table.rows.append(
            [name, str(len(rows)), _fmt(f_base), _fmt(f_vader), shipped, f"{(f_ours - f_base) * 100:+.1f} pt"]
        )
    table.notes.append(_latency_note(latency_texts[:200]))
    return [table]


def _latency_note(texts: Sequence[str]) -> str:
    from livelens.analysis.pipeline import load_pipeline
    from livelens.analysis.types import Turn

    pipeline = load_pipeline(("sentiment",))
    full = load_pipeline()
    turns = [Turn(f"t{i}", "eval", "CHAT", "p", "CUSTOMER", t) for i, t in enumerate(texts)]
    for turn in turns[:5]:
        pipeline.analyze(turn)
        full.analyze(turn)
    timings: dict[str, list[float]] = {"sentiment": [], "all": []}
    for turn in turns:
        started = time.perf_counter()
        pipeline.analyze(turn)
        timings["sentiment"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        full.analyze(turn)
        timings["all"].append((time.perf_counter() - started) * 1000)
    s, a = timings["sentiment"], timings["all"]
    return (
        f"latency per turn, one at a time ({len(turns)} test turns): sentiment median {statistics.median(s):.1f} ms, "
        f"p95 {np.percentile(s, 95):.1f} ms; all default components (redaction, sentiment, issues) median "
        f"{statistics.median(a):.1f} ms, p95 {np.percentile(a, 95):.1f} ms"
    )


# ------------------------------------------------------------------ issues


def evaluate_issues(data_dir: Path, limit: int | None = None) -> list[Table]:
    from livelens.analysis.issues import DEFAULT_CUE_WEIGHT, DEFAULT_THRESHOLD, load_issue_detector

    detector = load_issue_detector()

    def ours(text: str) -> bool:
        return bool(detector.detect(text, DEFAULT_THRESHOLD, DEFAULT_CUE_WEIGHT))

    def cues_only(text: str) -> bool:
        spans = detector.sentences(text)
        return any(c > 0 for c in detector.cue_scores(text, spans)) if spans else False

    banking = [r.text for r in _subsample(datasets.banking77(data_dir, "test"), limit)]
    contacts = _subsample(datasets.twacs(data_dir, "test"), limit)
    opening = [c for c in contacts if c.turns and c.turns[0][0] == "CUSTOMER"]
    openings = [c.turns[0][1] for c in opening]
    openings_not_other = [c.turns[0][1] for c in opening if c.tag != "OTHER"]
    agent = [text for c in contacts for role, text in c.turns if role == "AGENT"]
    meld = [u.text for u in _subsample(datasets.meld_utterances(data_dir, "test"), limit)]
    table = Table(
        "Issue detection (turn level)",
        ["set", "n", "what", "ours (cues + MiniLM) [95% CI]", "baseline: any cue rule"],
    )
    for name, texts, what in (
        ("BANKING77 test queries", banking, "found (recall)"),
        ("TwACS test: customer's opening turn", openings, "found (recall)"),
        ("  the same, without tag OTHER", openings_not_other, "found (recall)"),
        ("TwACS test: agent replies", agent, "false positives"),
        ("MELD test utterances (small talk)", meld, "false positives"),
    ):
        hits = [float(ours(t)) for t in texts]
        a = sum(hits) / max(1, len(texts))
        b = sum(cues_only(t) for t in texts) / max(1, len(texts))
        table.rows.append([name, str(len(texts)), what, ci(a, bootstrap_mean(hits), percent=True), f"{b:.1%}"])
    table.notes.append(
        'Many TwACS openings are compliments or chatter ("great crew tonight"); they carry an intent tag but state '
        "no problem, so their recall is bounded well below 100%."
    )
    table.notes.append(
        "Issues run only on CUSTOMER turns in the pipeline; the agent and MELD rows measure how often the detector "
        "would fire on text that states no reason for contact."
    )
    return [table]


def evaluate_turn_cases(cases_dir: Path) -> list[Table]:
    """The purpose-written turn cases (tests/data/turn_cases): what a supervisor notices at once."""
    import json

    from livelens.analysis.pipeline import load_pipeline
    from livelens.analysis.types import Turn

    if not (cases_dir / "turn_cases").is_dir():
        return []
    pipeline = load_pipeline(("sentiment", "issues"))
    table = Table(
        "Turn-level cases written for livelens (tests/data/turn_cases)",
        ["kind", "what", "dev n", "dev [95% CI]", "test n", "test [95% CI]"],
    )
    results: dict[tuple[str, str], dict[str, list[float]]] = {}
    for split in ("dev", "test"):
        path = cases_dir / "turn_cases" / f"{split}.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines():
            case = json.loads(line)
            analysis = pipeline.analyze(Turn("case", "cases", "CHAT", "p", case["role"], case["text"]))
            if "sentiment" in case:
                key = (case["kind"], f"sentiment is {case['sentiment']}")
                value = float(analysis.sentiment == case["sentiment"])
            else:
                key = (case["kind"], "reported as an issue")
                value = float(bool(analysis.issues))
            results.setdefault(key, {"dev": [], "test": []})[split].append(value)
    for (kind, what), by_split in results.items():
        row = [kind, what]
        for split in ("dev", "test"):
            values = by_split[split]
            mean = sum(values) / len(values) if values else float("nan")
            row += [str(len(values)), ci(mean, bootstrap_mean(values), percent=True) if values else "–"]
        table.rows.append(row)
    table.notes.append(
        "Goals: detail-only and closing turns reported as an issue <= 5 %; anger, sarcasm and an agent's apology "
        "with a fix labelled as shown. dev was used for tuning, test was not."
    )
    return [table]


# --------------------------------------------------------------------- PII


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score_pii(
    examples: Sequence[datasets.PiiExample], detect: Callable[[str], list[tuple[int, int, str]]]
) -> tuple[dict[str, PRF], PRF, int]:
    """Per-type P/R (a hit overlaps a gold span of the same mapped type) and type-blind redaction recall.

    Predictions overlapping a gold span of an untargeted type (GPE, ORGANIZATION …) are neither
    true nor false positives.
    """
    per_type: dict[str, PRF] = {}
    any_type = PRF()
    untargeted_hits = 0
    for ex in examples:
        predicted = detect(ex.text)
        gold = [(s, e, PII_TYPE_MAP.get(t)) for s, e, t in ex.spans]
        for s, e, t in gold:
            if t is None:
                continue
            prf = per_type.setdefault(t, PRF())
            if any(_overlaps((s, e), (ps, pe)) and pt == t for ps, pe, pt in predicted):
                prf.tp += 1
            else:
                prf.fn += 1
            if any(_overlaps((s, e), (ps, pe)) for ps, pe, _ in predicted):
                any_type.tp += 1
            else:
                any_type.fn += 1
        for ps, pe, pt in predicted:
            matching = [t for s, e, t in gold if _overlaps((s, e), (ps, pe))]
            if pt in matching:
                continue
            if matching and all(t is None for t in matching):
                untargeted_hits += 1
                continue
            per_type.setdefault(pt, PRF()).fp += 1
            if not matching:
                any_type.fp += 1
    return per_type, any_type, untargeted_hits


def _presidio_baseline() -> Callable[[str], list[tuple[int, int, str]]]:
    """presidio's own recognisers with the packaged spaCy model, its types mapped to ours."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    from livelens.analysis._offline import ensure_offline
    from livelens.analysis.nlp import SPACY_MODEL, load_spacy
    from livelens.analysis.redaction import PRESIDIO_TYPES

    ensure_offline()
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": SPACY_MODEL}])
    engine.nlp = {"en": load_spacy()}  # type: ignore[assignment]
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
    analyzer = AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])
    # The redactor's own presidio-name map, plus what only presidio's default registry reports;
    # the baseline counts LOCATION as an address.
    mapping = {
        **PRESIDIO_TYPES,
        "LOCATION": "ADDRESS",
        "US_DRIVER_LICENSE": "DRIVER_ID",
        "US_BANK_NUMBER": "BANK_ACCOUNT_NUMBER",
        "US_PASSPORT": "PASSPORT_NUMBER",
    }
    entities = sorted(mapping)

    def detect(text: str) -> list[tuple[int, int, str]]:
        return [
            (r.start, r.end, mapping[r.entity_type])
            for r in analyzer.analyze(text, language="en", entities=entities, score_threshold=0.4)
        ]

    return detect


def evaluate_pii(
    data_dir: Path,
    limit: int | None = None,
    name: str = "dev",
    *,
    cases_dir: Path | None = None,
    seeds: Sequence[int] | None = None,
    pii_python: str | None = None,
    generated_count: int = 1000,
    generate: bool = True,
) -> list[Table]:
    """Redaction on fresh presidio-evaluator sets, on ``pii-generated/<name>.jsonl`` and on dialogues."""
    from livelens.analysis.redaction import load_detector

    detector = load_detector()

    def detect(text: str, prompt: str | None) -> list[tuple[int, int]]:
        return [(s.begin, s.end) for s in detector.detect(text, prompt=prompt)]

    tables = []
    if generate:
        tables.append(_pii_generated_fresh(detect, seeds, pii_python, generated_count if limit is None else limit))
    tables.append(_pii_fixed_file(data_dir, name, limit, detect, detector))
    cases = cases_dir if cases_dir is not None else default_cases_dir()
    if (cases / "conversational_pii").is_dir():
        tables.append(_pii_dialogues(data_dir, cases, limit, detect))
    return tables


def default_cases_dir() -> Path:
    """``tests/data`` of a source checkout (the purpose-written cases are not shipped in the wheel)."""
    return Path.cwd() / "tests" / "data"


def _pii_generated_fresh(detect: pii_eval.Detect, seeds: Sequence[int] | None, python: str | None, count: int) -> Table:
    interpreter = pii_eval.generator_python(python)
    chosen = list(seeds) if seeds else pii_eval.fresh_seeds(5)
    title = f"PII redaction on presidio-evaluator sets generated now (seeds {', '.join(map(str, chosen))})"
    table = Table(title, ["figure", "gold (mean)", "mean", "sd", "min", "max"])
    if interpreter is None:
        table.rows.append(["skipped", "–", "–", "–", "–", "–"])
        table.notes.append(
            "presidio-evaluator is not installed: `pip install 'livelens[eval]'`, or pass --pii-python with an "
            "interpreter that has it."
        )
        return table
    sets = pii_eval.generate_sets(interpreter, chosen, count)
    timed, times = pii_eval.timed(detect)
    per_seed = {seed: pii_eval.score_generated(examples, timed) for seed, examples in sets.items()}
    table.rows = pii_eval.seeds_rows(per_seed)
    sizes = ", ".join(str(len(e)) for e in sets.values())
    table.notes.append(
        f"presidio-evaluator {_version('presidio-evaluator', interpreter)} templates filled by Faker (en_US) and its "
        f"multi-country person records; {sizes} sentences per seed. Seeds are drawn at evaluation time "
        "(--pii-seeds to repeat a run); none was ever used for tuning."
    )
    table.notes.append(
        "Recall: a gold span counts when >= 80 % of its characters are redacted (whatever type it was given). "
        "Character precision: redacted characters inside a gold span; characters of untargeted gold types "
        "(GPE, ORGANIZATION, DATE_TIME, TITLE, AGE, NRP, DOMAIN_NAME) count neither way."
    )
    table.notes.append(f"detection time {statistics.median(times):.1f} ms median per sentence")
    return table


def _version(package: str, interpreter: str) -> str:
    import subprocess
    import sys

    if interpreter == sys.executable:
        from importlib.metadata import version

        return version(package)
    out = subprocess.run(
        [interpreter, "-c", f"from importlib.metadata import version; print(version({package!r}))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or "?"


def _pii_fixed_file(data_dir: Path, name: str, limit: int | None, detect: pii_eval.Detect, detector: object) -> Table:
    examples = _subsample(datasets.pii_generated(data_dir, name), limit)
    ours = pii_eval.score_generated(examples, detect)
    baseline_detect = _presidio_baseline()
    base = pii_eval.score_generated(examples, lambda t, _p: [(s, e) for s, e, _ in baseline_detect(t)])
    table = Table(
        f"PII redaction on pii-generated/{name}.jsonl ({len(examples)} sentences; the shared development file)",
        ["figure", "gold", "livelens [95% CI]", "presidio default"],
    )
    table.rows = pii_eval.table_rows([("ours", ours)], base)
    table.notes.append("Tuned against: this file is the development set. Intervals: bootstrap over sentences.")
    return table


def _pii_dialogues(data_dir: Path, cases_dir: Path, limit: int | None, detect: pii_eval.Detect) -> Table:
    dev = _subsample(datasets.conversational_pii(cases_dir, "dev"), limit)
    test = _subsample(datasets.conversational_pii(cases_dir, "test"), limit)
    columns = [
        ("written test", pii_eval.score_dialogues(test, detect)),
        ("written test, no context", pii_eval.score_dialogues(test, detect, with_context=False)),
        ("written dev", pii_eval.score_dialogues(dev, detect)),
    ]
    abcd_path = data_dir / "abcd" / "abcd_sample.json"
    if abcd_path.is_file():
        abcd = datasets.abcd_pii(data_dir)
        columns.append(("ABCD sample (dev)", pii_eval.score_dialogues(abcd, detect)))
    table = Table(
        "Conversational PII: customer answers, with the agent's preceding turn as context",
        ["figure", f"gold (test, {len(test)} turns)", *(f"{label} [95% CI]" for label, _ in columns)],
    )
    rows = pii_eval.table_rows(columns)
    table.rows = rows
    table.notes.append(
        "Agent-question / customer-answer pairs written for livelens (tests/data/conversational_pii, voice-transcript "
        "and chat styles, including refusals that hold no PII); dev was used for tuning, test was not. "
        "ABCD: the sample's scenario values (name, e-mail, phone, address, zip) located in its customer turns."
    )
    return table


# ----------------------------------------------------------------- summary


def lead_n(turns: Sequence[tuple[str, str]], n: int = 3) -> str:
    return " ".join(text for _, text in turns[:n])


def dialogue_roles(turns: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Guess which DialogSum speaker plays the customer: the one not offering help first."""
    speakers = list(dict.fromkeys(s for s, _ in turns))
    if len(speakers) < 2:
        return {s: "CUSTOMER" for s in speakers}
    first_text = turns[0][1].lower()
    offers = ("can i help", "may i help", "what can i do", "how can i", "help you", "welcome to", "what would you like")
    agent = speakers[0] if any(o in first_text for o in offers) else speakers[1]
    return {s: ("AGENT" if s == agent else "CUSTOMER") for s in speakers}


def as_dialogue_tags(summary: str, roles: Mapping[str, str]) -> str:
    """Name the parties as DialogSum's references do: "the customer" -> its speaker tag ("#Person2#").

    The summary retells the contact as "the customer ... the agent ..."; DialogSum's references name the
    same two parties "#Person1#" and "#Person2#". Only these two role phrases are replaced, with the tag
    of the speaker that played the role in the replay.
    """
    tag = {role: speaker for speaker, role in roles.items()}
    for role, phrase in (("CUSTOMER", "the customer"), ("AGENT", "the agent")):
        if role in tag:
            summary = re.sub(rf"\b{phrase}\b", tag[role], summary, flags=re.I)
    return summary


def evaluate_summary(data_dir: Path, limit: int | None = None, split: str = "test") -> list[Table]:
    from livelens.analysis.pipeline import load_pipeline
    from livelens.analysis.types import AnalysedTurn, Turn

    dialogues = _subsample(datasets.dialogsum(data_dir, split), limit)
    pipeline = load_pipeline(("sentiment", "issues"))
    keys = ("ours", "written", "lead-3")
    totals = {k: np.zeros(3) for k in keys}
    per_dialogue: dict[str, list[float]] = {k: [] for k in keys}
    lengths: dict[str, list[int]] = {k: [] for k in keys}
    for d in dialogues:
        roles = dialogue_roles(d.turns)
        analysed = []
        for i, (speaker, text) in enumerate(d.turns):
            turn = Turn(f"{d.fname}-{i}", d.fname, "CHAT", speaker, roles[speaker], text)
            analysed.append(AnalysedTurn(turn, pipeline.analyze(turn)))
        summary = pipeline.summarize(analysed, max_chars=1270).content or ""
        candidates = {"ours": as_dialogue_tags(summary, roles), "written": summary, "lead-3": lead_n(d.turns)}
        for key, text in candidates.items():
            r = rouge_multi(text, d.references)
            totals[key] += [r["rouge1"], r["rouge2"], r["rougeL"]]
            per_dialogue[key].append(r["rougeL"])
            lengths[key].append(len(text))
    references = "3 references each" if split == "test" else "1 reference each"
    table = Table(
        f"Post-contact summary on DialogSum {split} ({len(dialogues)} dialogues, {references})",
        ["summariser", "ROUGE-1 F", "ROUGE-2 F", "ROUGE-L F [95% CI]", "mean chars"],
    )
    names = {
        "ours": "extractive (shipped), parties as speaker tags",
        "written": 'extractive, as written ("the customer")',
        "lead-3": "lead-3 turns",
    }
    for key in keys:
        r1, r2, rl = totals[key] / max(1, len(dialogues))
        table.rows.append(
            [
                names[key],
                _fmt(r1),
                _fmt(r2),
                ci(rl, bootstrap_mean(per_dialogue[key])),
                f"{statistics.mean(lengths[key]):.0f}",
            ]
        )
    for key in ("ours", "written"):
        gain = [a - b for a, b in zip(per_dialogue[key], per_dialogue["lead-3"], strict=True)]
        if gain:
            mean_gain = sum(gain) / len(gain)
            low, high = bootstrap_mean(gain)
            table.notes.append(
                f"ROUGE-L gain over lead-3, {names[key]}: {mean_gain * 100:+.1f} pt "
                f"[95% CI {low * 100:+.1f}, {high * 100:+.1f}] (paired bootstrap over dialogues)."
            )
    table.notes.append(
        "ROUGE F1 averaged over the references, own implementation (lower-cased alphanumeric tokens, no stemming). "
        'Speaker tags: "the customer"/"the agent" replaced by the replayed speaker\'s #PersonN# tag '
        "(as_dialogue_tags), as the references name the parties."
    )
    if split == "dev":
        table.notes.append("Dev split: the word budget and the number of agent sentences were tuned on it.")
    return [table]


def run(
    data_dir: Path,
    only: Sequence[str] = SECTIONS,
    limit: int | None = None,
    pii_set: str = "dev",
    *,
    cases_dir: Path | None = None,
    pii_seeds: Sequence[int] | None = None,
    pii_python: str | None = None,
    generate_pii: bool = True,
) -> list[Table]:
    """Every requested section's tables, in order.

    ``cases_dir`` holds the purpose-written cases (default ``./tests/data``); ``pii_seeds`` repeat a
    run's presidio-evaluator seeds (default: five fresh ones); ``pii_python`` is an interpreter that
    has presidio-evaluator, if this one has not; ``generate_pii=False`` skips the generated sets.
    """
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data directory {data_dir} does not exist (set --data-dir or LIVELENS_DATA_DIR)")
    tables: list[Table] = []
    for section in only:
        if section == "sentiment":
            tables += evaluate_sentiment(data_dir, limit)
        elif section == "issues":
            tables += evaluate_issues(data_dir, limit)
            tables += evaluate_turn_cases(cases_dir if cases_dir is not None else default_cases_dir())
        elif section == "pii":
            tables += evaluate_pii(
                data_dir,
                limit,
                pii_set,
                cases_dir=cases_dir,
                seeds=pii_seeds,
                pii_python=pii_python,
                generate=generate_pii,
            )
        elif section == "summary":
            tables += evaluate_summary(data_dir, limit, "dev")
            tables += evaluate_summary(data_dir, limit)
        elif section == "extraction":
            from livelens.analysis.evaluation.extraction import evaluate_extraction

            tables += evaluate_extraction(data_dir, limit)
        else:
            raise ValueError(f"unknown evaluation section {section!r} (choose from {', '.join(SECTIONS)})")
    return tables
