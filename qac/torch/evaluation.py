"""``qac eval``'s scoring: a task's outputs from features, and one sweep setting's row.

``Scorer.outputs`` turns features (``qac.torch.eval.features``) into what the metric reads per
example (pair cosines, predicted labels, per-sentence entity counts), the metric values, and the
task's derived outputs with their replicas (pair cosines; class probabilities; token class
probabilities), from which ``setting_row`` reads the 2σ coverage against the classical model.
"""

from __future__ import annotations

import numpy as np

from qac.torch import tasks

#: stated with every device-time estimate (qac.torch.model.device_time)
ASSUMED = ("per shot: the circuit's critical path from the target's gate and readout durations, + 250 us "
           "repetition delay on IBM devices; per circuit: 10 ms overhead (assumed); aer: no durations, not estimated")


def rms(value: np.ndarray, replicas: np.ndarray) -> np.ndarray:
    return np.sqrt(((replicas - value[None]) ** 2).sum(0) / max(len(replicas) - 1, 1))


class Scorer:
    def __init__(self, task: str, test: tasks.Dataset, probe=None):
        self.task, self.test, self.probe = task, test, probe
        if task == "pairs":
            self.gold = np.array(test.labels, dtype=float)
        elif task == "classify":
            self.gold = np.array(test.labels, dtype=object)

    def _pair_cosines(self, sentence: np.ndarray, unique: list[str]) -> np.ndarray:
        where = {text: i for i, text in enumerate(unique)}
        a = np.array([where[x] for x, _ in self.test.texts])
        b = np.array([where[y] for _, y in self.test.texts])
        return (sentence[..., a, :] * sentence[..., b, :]).sum(-1)

    def _probabilities(self, feats: np.ndarray) -> np.ndarray:
        shape = feats.shape
        return self.probe.predict_proba(feats.reshape(-1, shape[-1])).reshape(*shape[:-1], -1)

    def _tags(self, probabilities: np.ndarray, words: list[int]) -> list[list[str]]:
        labels = self.probe.classes_[np.argmax(probabilities, axis=-1)]
        out, at = [], 0
        for gold, k in zip(self.test.labels, words):
            out.append([str(t) for t in labels[at:at + k]] + ["O"] * (len(gold) - k))
            at += k
        return out

    def outputs(self, feats: dict) -> dict:
        """per_example (what the metric resamples), metrics, derived (+ replicas), sentence (+ replicas)."""
        reps = feats.get("sentence_replicas")
        out = {"sentence": feats["sentence"], "sentence_replicas": reps, "records": feats["records"]}
        if self.task == "pairs":
            cos = self._pair_cosines(feats["sentence"], feats["unique"])
            out.update(per_example=cos, derived=cos,
                       derived_replicas=None if reps is None else self._pair_cosines(reps, feats["unique"]),
                       metrics={"spearman": tasks.spearman(cos, self.gold)})
        elif self.task == "classify":
            probs = self._probabilities(feats["sentence"])
            predicted = self.probe.classes_[np.argmax(probs, axis=-1)]
            out.update(per_example=predicted, derived=probs,
                       derived_replicas=None if reps is None else self._probabilities(reps),
                       metrics={"accuracy": tasks.accuracy(self.gold, predicted),
                                "macro_f1": tasks.macro_f1(self.gold, predicted)})
        else:
            probs = self._probabilities(feats["tokens"])
            counts = tasks.entity_counts(self.test.labels, self._tags(probs, feats["words"]))
            token_reps = feats.get("tokens_replicas")
            out.update(per_example=counts, derived=probs,
                       derived_replicas=None if token_reps is None else self._probabilities(token_reps),
                       metrics={"entity_f1": tasks.f1_of_counts(counts)})
        return out

    def metric(self, per_example: np.ndarray, index: np.ndarray) -> float:
        """The task's headline metric of the examples ``index`` (for the paired bootstrap)."""
        if self.task == "pairs":
            return tasks.spearman(per_example[index], self.gold[index])
        if self.task == "classify":
            return tasks.accuracy(self.gold[index], per_example[index])
        return tasks.f1_of_counts(per_example[index])


def _coverage(value, replicas, exact, k: float = 2.0) -> float:
    sigma = rms(value, replicas)
    return float(np.mean(np.abs(value - exact) <= k * sigma + 1e-10))


def cost_of(infos: list, target) -> dict:
    from qac.torch.model import device_time

    return {"circuits": sum(i.circuits for i in infos), "circuits_run": sum(i.circuits_run for i in infos),
            "shots": sum(i.shots_used for i in infos), "pairs": sum(i.pairs for i in infos),
            "two_qubit_gates": sum(i.two_qubit_gates for i in infos),
            "device_seconds": device_time(infos, target)["seconds"]}


def setting_row(row: dict, scorer: Scorer, classical: dict, runs: list[dict], *, rng, draws: int,
                seconds: float) -> dict:
    from qac import targets

    names = list(classical["metrics"])
    metrics = {name: float(np.mean([r["metrics"][name] for r in runs])) for name in names}
    delta, ci = tasks.paired_bootstrap(scorer.metric, classical["per_example"], [r["per_example"] for r in runs],
                                       rng=rng, draws=draws)
    cosines = np.concatenate([(r["sentence"] * classical["sentence"]).sum(-1) for r in runs])
    derived = np.concatenate([np.ravel(r["derived"]) for r in runs])
    derived_reps = np.concatenate([r["derived_replicas"].reshape(len(r["derived_replicas"]), -1) for r in runs], 1)
    derived_exact = np.tile(np.ravel(classical["derived"]), len(runs))
    sentence = np.concatenate([np.ravel(r["sentence"]) for r in runs])
    sentence_reps = np.concatenate([r["sentence_replicas"].reshape(len(r["sentence_replicas"]), -1) for r in runs], 1)
    sentence_exact = np.tile(np.ravel(classical["sentence"]), len(runs))
    first = runs[0]["records"]
    return {**{k: row[k] for k in ("target", "noise", "exact", "layers", "heads")},
            "shots": None if row["exact"] else row["shots"],
            "mitigation": bool(row["noise"] if row["mitigation"] is None else row["mitigation"]) and row["noise"],
            "metric": metrics[names[0]], "metrics": metrics,
            "per_seed": [r["metrics"][names[0]] for r in runs],
            "delta": delta, "ci_low": ci[0], "ci_high": ci[1],
            "cosine_mean": float(np.mean(cosines)), "cosine_worst": float(np.min(cosines)),
            "coverage": _coverage(derived, derived_reps, derived_exact),
            "embedding_coverage": _coverage(sentence, sentence_reps, sentence_exact),
            "derived_max_error": float(np.max(np.abs(derived - derived_exact), initial=0.0)),
            "cost": cost_of(first, targets.get(row["target"])), "wall_seconds": seconds}
