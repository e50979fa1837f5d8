"""Fuzzing whole spec documents: every example either compiles or raises a QacError — never
another exception, never a hang. Documents are valid specs and near-misses (a key renamed, a
value of the wrong type, a ragged or mis-shaped array, an entry made non-finite), written as
YAML files and compiled for `aer`.

CI runs the ``ci`` profile (derandomised, bounded); ``HYPOTHESIS_PROFILE=slow pytest -m slow``
runs the many-example version."""

from __future__ import annotations

import math
import signal
from contextlib import contextmanager

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qac
from qac.errors import CompileError, QacError
from qac.kernels import choices

SECONDS_PER_EXAMPLE = 60
KEYS = ("name", "seed", "heads", "mask", "scale", "shots", "precision", "Q", "K", "V", "compile")

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64)
junk = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=True, allow_infinity=True),
                 st.text(max_size=12), st.lists(st.integers(-3, 3), max_size=3), st.just({"x": 1}))


@st.composite
def matrices(draw, rows: int, cols: int):
    kind = draw(st.sampled_from(["inline", "inline", "random", "zeros"]))
    if kind == "random":
        return {"random": {"shape": [rows, cols], "seed": draw(st.integers(0, 2**32 - 1))}}
    if kind == "zeros":
        return [[0.0] * cols for _ in range(rows)]
    return [draw(st.lists(finite, min_size=cols, max_size=cols)) for _ in range(rows)]


@st.composite
def valid_documents(draw) -> dict:
    heads = draw(st.sampled_from([1, 1, 2]))
    d = heads * draw(st.integers(1, 4))
    dv = heads * draw(st.integers(1, 2))
    n, m = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    doc = {"Q": draw(matrices(n, d)), "K": draw(matrices(m, d)), "V": draw(matrices(m, dv))}
    if heads > 1 or draw(st.booleans()):
        doc["heads"] = heads
    optional = {
        "name": st.text(max_size=20),
        "seed": st.integers(0, 2**32 - 1),
        "mask": st.sampled_from(choices.MASKS),
        "scale": st.one_of(st.just("auto"), st.floats(0.01, 4)),
        "shots": st.integers(1, 10**6),
        "compile": st.fixed_dictionaries({}, optional={
            "encoding": st.sampled_from((*choices.ENCODINGS, "auto")),
            "estimator": st.sampled_from((*choices.ESTIMATORS, "auto")),
            "optimization_level": st.sampled_from(choices.OPTIMIZATION_LEVELS)}),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            doc[key] = draw(strategy)
    return doc


@st.composite
def near_valid_documents(draw) -> dict:
    doc = draw(valid_documents())
    mutation = draw(st.sampled_from(["rename", "retype", "drop", "ragged", "transpose", "nonfinite", "extra",
                                     "shape", "compile"]))
    key = draw(st.sampled_from(sorted(doc)))
    if mutation == "rename":
        doc[key + draw(st.sampled_from(["s", "_", "x"]))] = doc.pop(key)
    elif mutation == "retype":
        doc[key] = draw(junk)
    elif mutation == "drop":
        doc.pop(key)
    elif mutation == "extra":
        doc[draw(st.text(min_size=1, max_size=8))] = draw(junk)
    elif mutation == "compile":
        doc["compile"] = {draw(st.sampled_from(["encoding", "estimator", "optimization_level", "passes", "x"])): draw(junk)}
    else:
        name = draw(st.sampled_from(["Q", "K", "V"]))
        matrix = doc[name]
        if isinstance(matrix, dict):
            if mutation == "shape":
                matrix["random"]["shape"] = draw(st.lists(st.integers(-2, 5000), max_size=3))
            return doc
        if mutation == "ragged" and matrix:
            matrix[draw(st.integers(0, len(matrix) - 1))].append(1.0)
        elif mutation == "transpose":
            doc[name] = [list(col) for col in zip(*matrix)]
        elif mutation == "nonfinite":
            matrix[0][0] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
        elif mutation == "shape":
            doc[name] = matrix[: max(0, len(matrix) - 1)]
    return doc


@contextmanager
def deadline(seconds: int):
    """Fail (not hang) if one example takes longer than ``seconds``."""
    def expired(*_):
        raise TimeoutError(f"an example took more than {seconds}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def compiles_or_refuses(tmp_path, doc: dict, *, must_compile: bool = False) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with deadline(SECONDS_PER_EXAMPLE):
        try:
            compiled = qac.compile(path, "aer")
        except QacError as error:
            message = str(error)
            # A valid document may only be refused for an encoding × estimator pair that does not exist.
            assert not must_compile or (isinstance(error, CompileError) and "compile" in doc), message
            assert message and "\n" not in message and "; " in message, message  # one line, with a fix
            return
        assert compiled.kernels and all(np.all(np.isfinite(b.values)) for b in compiled.program.module.bindings.values())


FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])


@FUZZ
@given(doc=valid_documents())
def test_valid_documents_compile(tmp_path, doc):
    compiles_or_refuses(tmp_path, doc, must_compile=True)


@FUZZ
@given(doc=near_valid_documents())
def test_near_valid_documents_compile_or_raise_a_qac_error(tmp_path, doc):
    compiles_or_refuses(tmp_path, doc)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(doc=st.one_of(valid_documents(), near_valid_documents()))
def test_many_documents_compile_or_raise_a_qac_error(tmp_path, doc):
    compiles_or_refuses(tmp_path, doc)
