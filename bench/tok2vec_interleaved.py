"""The default pipeline with spaCy's token vectors fused (as shipped) against thinc's own layers, interleaved.

    python bench/tok2vec_interleaved.py [PASSES] [BATCH]     # defaults 20 1

One process, one thread: the shipped pipeline analyses the corpus turns (each made distinct per pass, as
benchmark 7 does) in batches of BATCH, once with the fused networks of ``analysis/spacy_tok2vec.py`` and
once with spaCy's unfused networks swapped in, alternating which goes first from batch to batch. Each
side's CPU time (``time.process_time``) per turn and the ratio fused/thinc. The two sides run turn by
turn in one process, so a machine whose speed drifts by tens of percent between runs (shared VMs) moves
both alike; separate processes (``pipeline_ab.py``) could not resolve a 6 % change on such a machine.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time

from analysis_cost import COMPONENTS
from batching import _vary
from corpus import TURNS


def run(passes: int = 20, batch: int = 1) -> dict[str, float]:
    import spacy
    from thinc.api import NumpyOps

    from livelens.analysis import load_pipeline
    from livelens.analysis import nlp as spacy_nlp
    from livelens.analysis.types import Turn

    pipeline = load_pipeline(COMPONENTS)
    nlp = spacy_nlp.load_spacy()
    tok2vec, ner_chain = nlp.get_pipe("tok2vec"), nlp.get_pipe("ner").model.get_ref("tok2vec")
    fused = (tok2vec.model, ner_chain.layers[0])
    assert all(m.name == "fused_tok2vec" for m in fused)
    plain = spacy.load(spacy_nlp.SPACY_MODEL, exclude=list(spacy_nlp.UNUSED_COMPONENTS))
    thinc = (plain.get_pipe("tok2vec").model, plain.get_pipe("ner").model.get_ref("tok2vec").layers[0])
    ops = NumpyOps(use_blis=False)  # as load_spacy sets for every layer
    for network in thinc:
        for layer in network.walk():
            layer.ops = ops

    def use(networks: tuple[object, object]) -> None:
        tok2vec.model, ner_chain.layers[0] = networks

    turns = [Turn(id=f"t{i}", contact_id="bench", channel="CHAT", participant_id=role.lower(),
                  participant_role=role, content=text, language="en-US") for i, (role, text) in enumerate(TURNS)]
    pipeline.analyze_many(turns[:8])  # warm-up
    cpu = {"thinc": 0.0, "fused": 0.0}
    done = 0
    for p in range(passes):
        for start in range(0, len(turns), batch):
            chunk = turns[start:start + batch]
            order = [("fused", fused), ("thinc", thinc)]
            if (p + start // batch) % 2:
                order.reverse()
            for name, networks in order:
                use(networks)
                varied = [dataclasses.replace(t, id=f"{t.id}-{p}-{name}", content=_vary(t.content, f"zz{p}{name[0]}"))
                          for t in chunk]
                began = time.process_time()
                pipeline.analyze_many(varied)
                cpu[name] += time.process_time() - began
            done += len(chunk)
    use(fused)
    return {"batch": batch, "turns_per_side": done,
            "thinc_cpu_ms_per_turn": round(cpu["thinc"] / done * 1000, 3),
            "fused_cpu_ms_per_turn": round(cpu["fused"] / done * 1000, 3),
            "fused_over_thinc": round(cpu["fused"] / cpu["thinc"], 3)}


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(run(*args), indent=2))
