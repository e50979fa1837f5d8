"""``qac eval``'s harness: a task metric with quantum attention against the classical model.

For every setting of the sweep (target × noise, shots, layers, heads) and every sampling seed,
the test examples run through the model with quantum attention and the bootstrap replicas of
``qac.torch.uncertainty``; the classical model (exact attention, float64) runs once. Reported per
setting: the metric (mean over seeds), Δ against the classical model with a paired bootstrap 95%
CI over examples and seeds, each test example's embedding cosine to the classical one (mean and
worst), the model-output 2σ coverage (the task's derived outputs — pair cosines, class
probabilities, token class probabilities — and the pooled embeddings' entries against the
exact model's), the hardware cost of one pass over the test split, and the wall time.

Tasks (data formats in ``qac.torch.tasks``): ``pairs`` (Spearman ρ of embedding cosines against
gold, mean pooling + L2 normalisation), ``classify`` (a logistic-regression probe fitted on the
classical embeddings of a seeded train split; accuracy, macro-F1), ``tokens`` (a token probe on the
classical hidden state of each word's first sub-token; entity-level F1).
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import torch

from qac import seeds as streams
from qac.torch import evaluation as ev
from qac.torch import tasks
from qac.torch.config import QuantumAttentionConfig
from qac.torch.model import check_indices, embeddings, load, model_path, shape_of

FORMAT = 1
METRICS = {"pairs": ("spearman",), "classify": ("accuracy", "macro_f1"), "tokens": ("entity_f1",)}
REPLICAS = 16
BOOTSTRAP_DRAWS = 1000


def settings(*, shots, targets, noise: bool, layers, heads, exact: bool, mitigation=None, engine="auto") -> list[dict]:
    """The sweep: one dict of config keywords per (target, shots, layers, heads); exact ignores shots."""
    from qac import targets as registry

    rows = []
    for target, shot, layer, head in itertools.product(targets, [None] if exact else shots, layers, heads):
        kind = registry.get(target).kind
        rows.append({"target": target, "noise": bool(noise and kind != "simulator" and not exact),
                     "shots": 1024 if shot is None else int(shot), "exact": exact, "layers": layer, "heads": head,
                     "mitigation": mitigation, "engine": engine})
    return rows


def _split(data: tasks.Dataset, *, limit: int | None, test_fraction: float, seed: int):
    """(train or None, test): a seeded shuffle; ``limit`` caps the test split only (the quantum cost),
    the probe trains on the whole train split (classical forwards only)."""
    order = streams.generator(seed, "eval", 0).permutation(len(data))
    if data.task == "pairs":
        return None, data.take(order[:limit])
    cut = int(round(len(order) * (1 - test_fraction)))
    if cut < 1 or cut >= len(order):
        raise tasks.DataError(f"{data.source}: {len(order)} examples cannot be split into a train and a test part "
                              f"at --test-fraction {test_fraction}; give more examples")
    return data.take(order[:cut]), data.take(order[cut:][:limit])


def _encode(tokenizer, task: str, texts, max_length: int):
    if task == "tokens":
        return tokenizer(texts, is_split_into_words=True, padding=True, truncation=True, max_length=max_length,
                         return_tensors="pt")
    return tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")


def _first_subtokens(encoded, rows: int) -> list[list[int]]:
    """Per row, the position of each word's first sub-token (-1: truncated away)."""
    out = []
    for row in range(rows):
        positions, seen = {}, set()
        for position, word in enumerate(encoded.word_ids(row)):
            if word is not None and word not in seen:
                seen.add(word)
                positions[word] = position
        out.append(positions)
    return out


class Features:
    """What one batch's hidden states give the task: sentence embeddings, and word features."""

    def __init__(self, task: str, encoded):
        self.mask = encoded["attention_mask"].bool()
        self.positions = _first_subtokens(encoded, len(self.mask)) if task == "tokens" else None

    def sentence(self, hidden: torch.Tensor) -> torch.Tensor:
        return embeddings(hidden, self.mask)

    def tokens(self, hidden: torch.Tensor) -> torch.Tensor:
        rows = [b for b, positions in enumerate(self.positions) for _ in positions]
        cols = [p for positions in self.positions for p in positions.values()]
        return hidden[torch.tensor(rows, dtype=torch.long), torch.tensor(cols, dtype=torch.long)]


def _batches(task: str, data: tasks.Dataset, batch_size: int):
    """(texts to encode per batch, the unique sentences of a pairs task or None)."""
    if task == "pairs":
        unique = sorted({t for pair in data.texts for t in pair})
        return [unique[i:i + batch_size] for i in range(0, len(unique), batch_size)], unique
    return [data.texts[i:i + batch_size] for i in range(0, len(data), batch_size)], None


def features(model, tokenizer, task, data, batch_size, max_length, config=None, replicas=REPLICAS, on_batch=None):
    """Classical (``config`` None) or quantum features of every example, with replicas when quantum.

    Returns a dict: sentence (n, D), sentence_replicas (R, n, D); for tokens also tokens (W, D),
    tokens_replicas (R, W, D) and words (features per sentence); records (AttentionInfo list);
    unique (a pairs task's sentences, in the order of ``sentence``).
    """
    from qac.torch.uncertainty import forward

    batches, unique = _batches(task, data, batch_size)
    out = {"sentence": [], "sentence_replicas": [], "tokens": [], "tokens_replicas": [], "words": [], "records": []}
    for texts in batches:
        encoded = _encode(tokenizer, task, texts, max_length)
        feats = Features(task, encoded)
        batch = dict(encoded.items())
        if config is None:
            with torch.no_grad():
                hidden, reps = model(**batch).last_hidden_state, None
        else:
            errors = forward(model, batch, config, replicas=replicas, with_exact=False)
            hidden, reps = errors.last, errors.replicas[-1]
            out["records"] += [info for _, info in errors.records]
        out["sentence"].append(feats.sentence(hidden))
        if reps is not None:
            out["sentence_replicas"].append(torch.stack([feats.sentence(r) for r in reps]))
        if task == "tokens":
            out["tokens"].append(feats.tokens(hidden))
            out["words"] += [len(p) for p in feats.positions]
            if reps is not None:
                out["tokens_replicas"].append(torch.stack([feats.tokens(r) for r in reps]))
        if on_batch is not None:
            on_batch()
    for key, axis in (("sentence", 0), ("sentence_replicas", 1), ("tokens", 0), ("tokens_replicas", 1)):
        out[key] = torch.cat(out[key], dim=axis).numpy() if out[key] else None
    out["unique"] = unique
    return out


def _probe(features: np.ndarray, labels: list):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000).fit(features, labels)


def evaluate(task: str, data: str, *, model: str | None = None, shots=(1024,), targets=("aer",), noise: bool = False,
             layers=("all",), heads=("all",), seeds=(0,), exact: bool = False, limit: int | None = None,
             batch_size: int = 8, replicas: int = REPLICAS, test_fraction: float = 0.5, max_length: int = 64,
             mitigation=None, engine: str = "auto", split_seed: int = 0, on_progress=None) -> dict:
    """Run the sweep and return the figures ``qac eval`` prints and writes to eval.json."""
    def many(value):  # one value or a sequence of them (a sweep)
        return (value,) if isinstance(value, (str, int)) else tuple(value)

    shots, targets, layers, heads, seeds = map(many, (shots, targets, layers, heads, seeds))
    dataset = tasks.read(task, data)
    train, test = _split(dataset, limit=limit, test_fraction=test_fraction, seed=split_seed)
    sweep = settings(shots=shots, targets=targets, noise=noise, layers=layers, heads=heads, exact=exact,
                     mitigation=mitigation, engine=engine)
    tokenizer, network = load(model)
    n_layers, n_heads = shape_of(network)
    for row in sweep:
        check_indices(QuantumAttentionConfig(**row), n_layers, n_heads)
    per_pass = len(_batches(task, test, batch_size)[0])
    total = per_pass * len(sweep) * len(seeds) + per_pass
    done = [0]

    def step():
        done[0] += 1
        if on_progress is not None:
            on_progress(done[0], total)

    start = time.perf_counter()
    probe = None
    if train is not None:
        seen = features(network, tokenizer, task, train, batch_size, max_length)
        if task == "tokens":
            probe = _probe(seen["tokens"], [t for tags, k in zip(train.labels, seen["words"]) for t in tags[:k]])
        else:
            probe = _probe(seen["sentence"], train.labels)
    scorer = ev.Scorer(task, test, probe)
    classical = scorer.outputs(features(network, tokenizer, task, test, batch_size, max_length, on_batch=step))
    classical_seconds = time.perf_counter() - start
    rows = []
    for row in sweep:
        began = time.perf_counter()
        runs = []
        for seed in seeds:
            runs.append(scorer.outputs(features(network, tokenizer, task, test, batch_size, max_length,
                                                config=QuantumAttentionConfig(**{**row, "seed": int(seed)}),
                                                replicas=replicas, on_batch=step)))
        rows.append(ev.setting_row(row, scorer, classical, runs, rng=streams.generator(split_seed, "eval", 1),
                                   draws=BOOTSTRAP_DRAWS, seconds=time.perf_counter() - began))
    return {"format": FORMAT, "kind": "eval", "task": task, "data": str(data), "model": str(model_path(model)),
            "model_type": network.config.model_type, "layers": n_layers, "heads": n_heads,
            "metric": METRICS[task][0], "metrics": list(METRICS[task]),
            "examples": {"train": 0 if train is None else len(train), "test": len(test)},
            "seeds": [int(s) for s in seeds], "replicas": replicas, "split_seed": split_seed,
            "classical": classical["metrics"], "settings": rows,
            "device_time_assumptions": ev.ASSUMED,
            "seconds": {"classical": classical_seconds, "total": time.perf_counter() - start}}
