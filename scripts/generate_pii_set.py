"""Generate a labelled PII sentence set like shared/data/pii-generated, with another seed.

presidio-evaluator pulls in pandas, scikit-learn and transformers (no torch), so run this in a
throwaway virtualenv rather than the project's:

    python3 -m venv /tmp/pe && /tmp/pe/bin/pip install presidio-evaluator==0.3.2
    /tmp/pe/bin/python scripts/generate_pii_set.py --seed 2 --out /tmp/livelens-pii
    .venv/bin/livelens eval --only pii --data-dir /tmp/livelens-pii --pii-set seed2

Writes ``<out>/pii-generated/seed<N>.jsonl`` in the same format as ``dev.jsonl``. Sentences
whose span offsets do not match their values (a few templates produce them) are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--count", type=int, default=1500)
    parser.add_argument("--out", type=Path, default=Path("/tmp/livelens-pii"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from presidio_evaluator.data_generator import PresidioSentenceFaker

    faker = PresidioSentenceFaker("en_US", lower_case_ratio=0.05, random_seed=args.seed)
    target = args.out / "pii-generated" / f"seed{args.seed}.jsonl"
    target.parent.mkdir(parents=True, exist_ok=True)
    kept = 0
    with target.open("w", encoding="utf-8") as fh:
        for sentence in faker.generate_new_fake_sentences(num_samples=args.count):
            spans = [
                {"type": s.entity_type, "value": s.entity_value, "start": s.start_position, "end": s.end_position}
                for s in sentence.spans
            ]
            if any(sentence.full_text[s["start"] : s["end"]] != s["value"] for s in spans):
                continue
            fh.write(json.dumps({"text": sentence.full_text, "spans": spans}) + "\n")
            kept += 1
    print(f"wrote {kept} sentences to {target}")


if __name__ == "__main__":
    main()
