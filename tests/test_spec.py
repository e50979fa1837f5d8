"""Tests for qac.spec: the L0 attention spec loader and its one-line, located errors."""

from __future__ import annotations

import math
import os
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from qac.errors import SpecError
from qac.kernels import choices
from qac.spec import (
    MAX_PAIRS,
    MAX_YAML_DEPTH,
    CompileOptions,
    Spec,
    load_spec,
    yamlfile,
)

# Line numbers of VALID, used by the hostile table below:
# name 1, seed 2, heads 3, mask 4, scale 5, shots 6, Q 7, K 8, V 9, compile 10,
# encoding 11, estimator 12, optimization_level 13.
VALID = """\
name: toy_attention
seed: 7
heads: 1
mask: causal
scale: auto
shots: 4096
Q: [[0.1, 0.2], [0.3, -0.4]]
K: [[0.5, 0.6], [0.7, 0.8], [0.9, 1.0]]
V: [[1.0], [2.0], [3.0]]
compile:
  encoding: binary
  estimator: interference
  optimization_level: 1
"""


def variant(**lines: str | None) -> str:
    """VALID with the line of each named key replaced (None deletes it); keys may be indented."""
    out = []
    for line in VALID.splitlines():
        key = line.split(":")[0].strip()
        if key in lines:
            if lines[key] is not None:
                out.append(lines[key])
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def write(tmp_path, text: str | bytes, name: str = "attention.yaml"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def spec_error(path) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.fixture
def data_dir(tmp_path):
    """npy files next to the spec, good and bad."""
    np.save(tmp_path / "k.npy", np.array([[0.5, 0.6], [0.7, 0.8], [0.9, 1.0]]))
    np.save(tmp_path / "nan.npy", np.array([[0.5, np.nan], [0.7, 0.8], [0.9, 1.0]]))
    np.save(tmp_path / "cube.npy", np.zeros((3, 2, 2)))
    np.save(tmp_path / "flat.npy", np.zeros(2))
    np.save(tmp_path / "complex.npy", np.zeros((3, 2), dtype=complex))
    np.save(tmp_path / "objects.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    (tmp_path / "pickled.npy").write_bytes(pickle.dumps([[1.0, 2.0]]))
    (tmp_path / "text.npy").write_text("not numpy at all")
    (tmp_path / "truncated.npy").write_bytes((tmp_path / "k.npy").read_bytes()[:-8])
    return tmp_path


# --- valid specs ---------------------------------------------------------------------------


def test_valid_spec_every_field(tmp_path):
    spec = load_spec(write(tmp_path, VALID))
    assert spec.name == "toy_attention" and spec.seed == 7 and spec.heads == 1
    assert spec.mask == "causal" and spec.scale is None and spec.shots == 4096
    assert spec.compile == CompileOptions(encoding="binary", estimator="interference", optimization_level=1)
    np.testing.assert_array_equal(spec.Q, [[0.1, 0.2], [0.3, -0.4]])
    assert (spec.N, spec.M, spec.d, spec.dv, spec.d_head, spec.dv_head) == (2, 3, 2, 1, 2, 1)
    assert spec.scale_value == pytest.approx(1 / math.sqrt(2))
    assert spec.path == tmp_path / "attention.yaml"
    for array in (spec.Q, spec.K, spec.V):
        assert array.dtype == np.float64 and not array.flags.writeable


def test_every_matrix_source(tmp_path, data_dir):
    (tmp_path / "data").mkdir()
    v = np.arange(12, dtype=np.int32).reshape(3, 4)
    np.save(tmp_path / "data" / "v.npy", v)
    text = variant(Q="Q: {random: {shape: [4, 2], seed: 1}}", K="K: {npy: k.npy}", V="V: data/v.npy")
    spec = load_spec(write(tmp_path, text))
    np.testing.assert_array_equal(spec.Q, np.random.default_rng(1).standard_normal((4, 2)))
    np.testing.assert_array_equal(spec.K, np.load(tmp_path / "k.npy"))
    np.testing.assert_array_equal(spec.V, v.astype(np.float64))
    assert spec.V.dtype == np.float64


def test_random_defaults_and_scale(tmp_path):
    text = variant(Q="Q: {random: {shape: [2, 2]}}", K="K: {random: {shape: [3, 2], seed: 5, scale: 0.5}}")
    spec = load_spec(write(tmp_path, text))
    np.testing.assert_array_equal(spec.Q, np.random.default_rng(0).standard_normal((2, 2)))
    np.testing.assert_array_equal(spec.K, np.random.default_rng(5).standard_normal((3, 2)) * 0.5)


def test_defaults_and_optional_keys(tmp_path):
    spec = load_spec(write(tmp_path, "Q: [[1.0]]\nK: [[2.0]]\nV: [[3.0]]\ncompile:\n"))
    assert (spec.name, spec.heads, spec.scale, spec.mask, spec.shots, spec.seed) == ("attention", 1, None, "none", 4096, 0)
    assert spec.compile == CompileOptions() and spec.compile.passes is None
    assert spec.d == 1 and spec.scale_value == 1.0  # d = 1 is valid


def test_zero_rows_and_exponent_numbers_are_valid(tmp_path):
    text = variant(Q="Q: [[0, 0], [1e-3, -2E2]]", scale="scale: 1e-1", shots="shots: 1e4")
    spec = load_spec(write(tmp_path, text))
    np.testing.assert_array_equal(spec.Q, [[0.0, 0.0], [0.001, -200.0]])
    assert spec.scale == 0.1 and spec.scale_value == 0.1 and spec.shots == 10_000


@pytest.mark.parametrize("raw, clean", [
    ("toy attention", "toy_attention"), ("3d-attn", "_3d_attn"), ("''", "attention"),
    ("x" * 100, "x" * 64), ("ünï", "_n_"),
])
def test_name_is_sanitised(tmp_path, raw, clean):
    assert load_spec(write(tmp_path, variant(name=f"name: {raw}"))).name == clean


def test_heads_split_widths(tmp_path):
    text = variant(heads="heads: 2", Q="Q: [[1, 2, 3, 4]]", K="K: [[1, 2, 3, 4]]", V="V: [[1, 2]]")
    spec = load_spec(write(tmp_path, text))
    assert (spec.heads, spec.d_head, spec.dv_head) == (2, 2, 1)


def test_mapping_source_resolves_npy_against_base_dir(tmp_path, data_dir):
    spec = load_spec({"Q": [[1.0, 2.0]], "K": "k.npy", "V": np.ones((3, 1))}, base_dir=tmp_path)
    np.testing.assert_array_equal(spec.K, np.load(tmp_path / "k.npy"))
    assert spec.path is None
    assert load_spec(spec) is spec


def test_mapping_arrays_are_copied_not_aliased():
    q = np.ones((2, 2))
    spec = load_spec({"Q": q, "K": q, "V": q})
    q[0, 0] = 5.0
    assert q.flags.writeable and spec.Q[0, 0] == 1.0


def test_spec_is_frozen(tmp_path):
    spec = load_spec(write(tmp_path, VALID))
    with pytest.raises(Exception):
        spec.shots = 3
    with pytest.raises(ValueError):
        spec.Q[0, 0] = 1.0


# --- digest and with_options -----------------------------------------------------------------


def test_digest_ignores_key_order_and_path(tmp_path):
    a = load_spec(write(tmp_path, VALID, "a.yaml"))
    reordered = "\n".join(reversed(VALID.splitlines()[:9])) + "\n" + "\n".join(VALID.splitlines()[9:]) + "\n"
    (tmp_path / "sub").mkdir()
    b = load_spec(write(tmp_path / "sub", reordered, "b.yaml"))
    assert a.path != b.path
    assert a.digest() == b.digest() and a == b and hash(a) == hash(b)
    assert len(a.digest()) == 64


def test_digest_changes_with_content(tmp_path):
    base = load_spec(write(tmp_path, VALID))
    others = [
        load_spec(write(tmp_path, variant(shots="shots: 100"), "s.yaml")),
        load_spec(write(tmp_path, variant(Q="Q: [[0.1, 0.2], [0.3, -0.5]]"), "q.yaml")),
        load_spec(write(tmp_path, variant(encoding="  encoding: auto"), "e.yaml")),
        load_spec(write(tmp_path, variant(scale="scale: 0.5"), "c.yaml")),
        base.with_options(seed=8),
    ]
    digests = {base.digest()} | {o.digest() for o in others}
    assert len(digests) == len(others) + 1


def test_with_options_revalidates(tmp_path):
    spec = load_spec(write(tmp_path, VALID))
    changed = spec.with_options(shots=10, seed=3, compile={"estimator": "auto"})
    assert (changed.shots, changed.seed, changed.compile.estimator, changed.compile.encoding) == (10, 3, "auto", "binary")
    assert changed.path == spec.path and spec.shots == 4096
    with pytest.raises(SpecError, match=r"^<spec>: shots: is 0, outside 1\.\.100000000; use a value from 1"):
        spec.with_options(shots=0)
    with pytest.raises(SpecError, match="unknown key 'shot'; did you mean 'shots'"):
        spec.with_options(shot=5)
    with pytest.raises(SpecError, match="heads: heads = 2 does not divide d = 2 and dv = 1"):
        spec.with_options(heads=2)


def test_direct_construction_raises_spec_error():
    with pytest.raises(SpecError, match=r"^<spec>: K: has 3 columns but Q has 2; Q and K must have the same width d$"):
        Spec(Q=[[1, 2]], K=[[1, 2, 3]], V=[[1]])
    with pytest.raises(SpecError, match=r"^<spec>: encoding: unknown encoding 'binry'; did you mean 'binary'\?$"):
        CompileOptions(encoding="binry")


def test_choices_are_read_at_validation_time(tmp_path, monkeypatch):
    monkeypatch.setattr(choices, "ENCODINGS", (*choices.ENCODINGS, "unary"))
    spec = load_spec(write(tmp_path, variant(encoding="  encoding: unary")))
    assert spec.compile.encoding == "unary"


def test_spec_module_does_not_import_qiskit():
    code = "import sys, qac.spec; assert not any(m.startswith('qiskit') for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- errors --------------------------------------------------------------------------------

# (id, YAML text, line, field (None: no field), fragment of what/fix)
HOSTILE = [
    ("syntax", "Q: [[1, 2]]\nK: [[1, 2]\nV: [[1]]\n", 3, None, "invalid YAML"),
    ("tabs", "Q: [[1]]\ncompile:\n\tencoding: binary\n", 3, None, "indent with spaces; YAML does not allow tabs"),
    ("two-documents", "Q: [[1]]\n---\nK: [[1]]\n", 2, None, "expected a single document"),
    ("list-document", "- 1\n- 2\n", 1, None, "the document is a list, not a mapping; write top-level keys"),
    ("scalar-document", "hello\n", 1, None, "not a mapping"),
    ("empty-file", "", 1, None, "the file is empty; write a mapping with at least Q, K and V"),
    ("comments-only", "# nothing here\n", 1, None, "the file is empty"),
    ("not-utf8", b"name: caf\xe9\nQ: [[1]]\n", 1, None, "is not UTF-8 text; save it as UTF-8"),
    ("control-char", "name: a\x07b\n", 1, None, "are not allowed; remove the character"),
    ("alias", "Q: &rows [[1, 2]]\nK: *rows\nV: [[1]]\n", 2, None, "YAML aliases (*name) are not supported"),
    ("python-tag", variant(Q="Q: !!python/object/apply:os.system [echo]"), 7, "Q", "is not supported; remove the tag"),
    ("duplicate-key", VALID + "heads: 2\n", 14, "heads", "duplicate key 'heads'; keep only one of them"),
    ("non-name-key", VALID + "1: 2\n", 14, None, "a key is not a plain name"),
    ("unknown-key", variant(heads="hedas: 1"), 3, "hedas", "unknown key 'hedas'; did you mean 'heads'?"),
    ("unknown-key-case", variant(Q="q: [[1, 2]]"), 7, "q", "did you mean 'Q'?"),
    ("unknown-key-far", VALID + "colour: red\n", 14, "colour", "valid keys are name, seed, heads"),
    ("user-path-key", VALID + "path: x.yaml\n", 14, "path", "unknown key 'path'"),
    ("unknown-compile-key", variant(encoding="  encodng: binary"), 11, "compile.encodng",
     "unknown key 'encodng'; did you mean 'encoding'?"),
    ("unknown-random-key", variant(Q="Q: {random: {shape: [2, 2], sed: 1}}"), 7, "Q.random.sed", "did you mean 'seed'?"),
    ("unknown-source-key", variant(Q="Q: {rand: {shape: [2, 2]}}"), 7, "Q.rand", "did you mean 'random'?"),
    ("missing-Q", variant(Q=None), 1, "Q", "required key 'Q' is missing; add e.g. Q: {random: {shape: [4, 8]}}"),
    ("heads-text", variant(heads='heads: "two"'), 3, "heads", "must be a whole number, got the text 'two'; write e.g. heads: 2"),
    ("heads-bool", variant(heads="heads: true"), 3, "heads", "got the boolean true"),
    ("heads-zero", variant(heads="heads: 0"), 3, "heads", "is 0, outside 1..1024"),
    ("shots-fraction", variant(shots="shots: 1.5"), 6, "shots", "must be a whole number, got 1.5"),
    ("shots-zero", variant(shots="shots: 0"), 6, "shots", "use a value from 1 to 100000000"),
    ("shots-huge", variant(shots="shots: 100000001"), 6, "shots", "outside 1..100000000"),
    ("shots-empty", variant(shots="shots:"), 6, "shots", "got nothing (an empty value)"),
    ("seed-negative", variant(seed="seed: -1"), 2, "seed", "is -1, outside 0..4294967295; use a value from 0 to 4294967295"),
    ("seed-2**32", variant(seed="seed: 4294967296"), 2, "seed", "outside 0..4294967295"),
    ("name-list", variant(name="name: [a]"), 1, "name", "must be text, got a list"),
    ("mask-typo", variant(mask="mask: casual"), 4, "mask", "unknown mask 'casual'; did you mean 'causal'?"),
    ("mask-unknown", variant(mask="mask: triangle"), 4, "mask", "use one of: none, causal"),
    ("encoding-typo", variant(encoding="  encoding: binry"), 11, "compile.encoding", "did you mean 'binary'?"),
    ("estimator-unknown", variant(estimator="  estimator: teleport"), 12, "compile.estimator",
     "unknown estimator 'teleport'; use one of: " + ", ".join((*choices.ESTIMATORS, "auto"))),
    ("level-unknown", variant(optimization_level="  optimization_level: 7"), 13, "compile.optimization_level",
     "level 7 does not exist; use one of 0, 1, 2, 3"),
    ("level-bool", variant(optimization_level="  optimization_level: yes"), 13, "compile.optimization_level",
     "got the boolean true"),
    ("passes-empty", variant(optimization_level='  passes: "  "'), 13, "compile.passes", "non-empty pipeline text"),
    ("compile-not-mapping", variant(compile="compile: fast", encoding=None, estimator=None, optimization_level=None),
     10, "compile", "must be a mapping of options"),
    ("scale-inf", variant(scale="scale: .inf"), 5, "scale", "not a finite number"),
    ("scale-nan", variant(scale="scale: .nan"), 5, "scale", "not a finite number"),
    ("scale-text", variant(scale="scale: fast"), 5, "scale", "must be 'auto' or a number, got the text 'fast'"),
    ("scale-bool", variant(scale="scale: false"), 5, "scale", "must be a number, got the boolean false"),
    ("ragged", variant(K="K: [[0.5, 0.6], [0.7], [0.9, 1.0]]"), 8, "K",
     "row 2 has 1 entry but row 1 has 2; every row must have the same length"),
    ("ragged-block", variant(K="K:\n  - [0.5, 0.6]\n  - [0.7]\n  - [0.9, 1.0]"), 10, "K", "row 2 has 1 entry but"),
    ("bad-entry-block", variant(K="K:\n  - [0.5, 0.6]\n  - [0.7, 0.8]\n  - [0.9, x]"), 11, "K",
     "row 3, column 2 is the text 'x', not a number; write a plain number"),
    ("empty-matrix", variant(K="K: []"), 8, "K", "is empty; give at least one row"),
    ("empty-row", variant(K="K: [[]]"), 8, "K", "row 1 is empty"),
    ("flat-list", variant(K="K: [0.5, 0.6]"), 8, "K", "write it as a list of rows, e.g. [[1, 2, 3]]"),
    ("row-not-list", variant(K="K: [[0.5, 0.6], 7]"), 8, "K", "row 2 is 7, not a list"),
    ("bool-entry", variant(K="K: [[0.5, true], [0.7, 0.8], [0.9, 1.0]]"), 8, "K", "is the boolean true, not a number"),
    ("nan-entry", variant(K="K: [[0.5, .nan], [0.7, 0.8], [0.9, 1.0]]"), 8, "K",
     "row 1, column 2 is nan; use finite numbers"),
    ("huge-int-entry", variant(K="K: [[0.5, 1" + "0" * 400 + "], [0.7, 0.8], [0.9, 1.0]]"), 8, "K", "use finite numbers"),
    ("matrix-number", variant(K="K: 3"), 8, "K", "give a list of rows, a .npy path, {npy: path} or {random:"),
    ("not-npy-path", variant(K="K: data/k.csv"), 8, "K", "'data/k.csv' is not a .npy file path; save the matrix with np.save"),
    ("npy-missing", variant(K="K: missing.npy"), 8, "K", "file 'missing.npy' not found (looked for /"),
    ("npy-nan", variant(K="K: nan.npy"), 8, "K", "row 1, column 2 is nan; use finite numbers"),
    ("npy-3d", variant(K="K: cube.npy"), 8, "K", "'cube.npy' is 3-D with shape [3, 2, 2]; save one 2-D array"),
    ("npy-1d", variant(K="K: {npy: flat.npy}"), 8, "K.npy", "is 1-D with shape [2]; save it as a 2-D array of rows"),
    ("npy-complex", variant(K="K: complex.npy"), 8, "K", "holds complex128 values, not real numbers"),
    ("npy-objects", variant(K="K: objects.npy"), 8, "K",
     "holds Python objects (pickle); save a numeric array with np.save"),
    ("npy-pickle", variant(K="K: pickled.npy"), 8, "K", "holds Python objects (pickle)"),
    ("npy-text", variant(K="K: text.npy"), 8, "K", "'text.npy' is not a .npy file; save the matrix with np.save"),
    ("npy-truncated", variant(K="K: truncated.npy"), 8, "K", "is not a valid .npy file"),
    ("npy-not-path", variant(K="K: {npy: 3}"), 8, "K.npy", "npy must be a file path"),
    ("two-sources", variant(K="K: {npy: k.npy, random: {shape: [3, 2]}}"), 8, "K", "give exactly one of"),
    ("random-too-tall", variant(Q="Q: {random: {shape: [100000, 2]}}"), 7, "Q.random.shape",
     "shape [100000, 2] has 100000 rows; qac accepts at most 4096 rows per matrix (each query×key pair is one circuit)"),
    ("random-too-wide", variant(Q="Q: {random: {shape: [2, 5000]}}"), 7, "Q.random.shape",
     "has 5000 columns; qac accepts at most 1024 columns"),
    ("random-zero", variant(Q="Q: {random: {shape: [0, 2]}}"), 7, "Q.random.shape", "has 0 rows; a matrix needs at least one row"),
    ("random-negative", variant(Q="Q: {random: {shape: [2, -3]}}"), 7, "Q.random.shape", "has -3 columns"),
    ("random-1d-shape", variant(Q="Q: {random: {shape: [2]}}"), 7, "Q.random.shape", "must be [rows, cols]"),
    ("random-no-shape", variant(Q="Q: {random: {seed: 1}}"), 7, "Q.random", "random has no shape; add shape: [rows, cols]"),
    ("random-not-mapping", variant(Q="Q: {random: 3}"), 7, "Q.random", "random needs a mapping"),
    ("random-seed", variant(Q="Q: {random: {shape: [2, 2], seed: 1.5}}"), 7, "Q.random.seed", "must be a whole number"),
    ("random-scale-nan", variant(Q="Q: {random: {shape: [2, 2], scale: .nan}}"), 7, "Q.random.scale", "not a finite number"),
    ("random-block-lines", variant(Q="Q:\n  random:\n    shape: [2, 2]\n    seed: -4"), 10, "Q.random.seed", "outside 0..4294967295"),
    ("widths-differ", variant(K="K: [[0.5, 0.6, 0.1], [0.7, 0.8, 0.1], [0.9, 1.0, 0.1]]"), 8, "K",
     "has 3 columns but Q has 2; Q and K must have the same width d"),
    ("rows-differ", variant(V="V: [[1.0], [2.0]]"), 9, "V", "has 2 rows but K has 3; K and V must have the same number of rows M"),
    ("heads-divide", variant(heads="heads: 2"), 3, "heads", "heads = 2 does not divide d = 2 and dv = 1"),
    ("too-many-pairs", variant(Q="Q: {random: {shape: [4096, 2]}}", K="K: {random: {shape: [4096, 2]}}",
                               V="V: {random: {shape: [4096, 1]}}"), 7, "Q",
     f"= 16777216 query×key pairs; qac accepts at most {MAX_PAIRS} pairs"),
]


@pytest.mark.parametrize("text, line, field, fragment", [case[1:] for case in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_specs(tmp_path, data_dir, monkeypatch, text, line, field, fragment):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, text)
    message = spec_error("attention.yaml")  # the label is the path as given, not absolutised
    prefix = f"attention.yaml:{line}: " + (f"{field}: " if field else "")
    assert message.startswith(prefix), message
    assert fragment in message, message
    assert "; " in message  # every message carries a fix


PURE_PYTHON_CASES = {"syntax", "tabs", "two-documents", "control-char", "alias", "duplicate-key", "ragged-block",
                     "unknown-compile-key", "random-block-lines", "python-tag"}


@pytest.mark.parametrize("text, line, field, fragment", [c[1:] for c in HOSTILE if c[0] in PURE_PYTHON_CASES],
                         ids=[c[0] for c in HOSTILE if c[0] in PURE_PYTHON_CASES])
def test_hostile_specs_without_libyaml(tmp_path, data_dir, monkeypatch, text, line, field, fragment):
    """The pure-Python PyYAML fallback gives the same locations and fixes."""
    monkeypatch.setattr(yamlfile, "Loader", yamlfile.make_loader(yaml.SafeLoader))
    test_hostile_specs(tmp_path, data_dir, monkeypatch, text, line, field, fragment)
    assert load_spec(write(tmp_path, variant(scale="scale: 1e-1"), "ok.yaml")).scale == 0.1


def test_hostile_table_is_big_enough():
    assert len(HOSTILE) >= 30


def test_file_not_found_and_directory(tmp_path):
    missing = tmp_path / "nope.yaml"
    assert spec_error(str(missing)) == f"{missing}: file not found; check the path (relative to {os.getcwd()})"
    assert spec_error(tmp_path).endswith("is a directory, not a file; give the path of the spec's .yaml file")


def test_mapping_errors_say_spec_and_no_line():
    with pytest.raises(SpecError) as info:
        load_spec({"Q": [[1.0]], "K": [[1.0]], "V": [[1.0]], "hedas": 2})
    assert str(info.value) == "<spec>: hedas: unknown key 'hedas'; did you mean 'heads'?"
    with pytest.raises(SpecError, match=r"^<spec>: K: file 'k.npy' not found"):
        load_spec({"Q": [[1.0]], "K": "k.npy", "V": [[1.0]]}, base_dir="/nonexistent")
    with pytest.raises(SpecError, match=r"^<spec>: Q: the array holds Python objects"):
        load_spec({"Q": np.array([[None]]), "K": [[1.0]], "V": [[1.0]]})
    with pytest.raises(SpecError, match=r"^<spec>: expected a YAML file path, a mapping or a Spec, got int"):
        load_spec(42)


def test_first_problem_in_file_order_is_reported(tmp_path):
    text = variant(seed="seed: -1", shots="shots: 0")
    assert spec_error(write(tmp_path, text)).startswith(f"{tmp_path / 'attention.yaml'}:2: seed:")


def test_alias_bomb_is_refused_fast(tmp_path):
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    start = time.perf_counter()
    message = spec_error(write(tmp_path, "\n".join(lines) + "\n"))
    assert time.perf_counter() - start < 10.0  # expanded, 9**9 items would take minutes: a bound, not a speed goal
    assert ":2: YAML aliases (*name) are not supported; write the value out in full" in message


def test_huge_and_deep_documents_are_refused_fast(tmp_path):
    start = time.perf_counter()
    big = spec_error(write(tmp_path, "Q: [" + "0, " * 250_000 + "0]\n", "big.yaml"))
    deep = spec_error(write(tmp_path, "Q: " + "[" * 100_000 + "\n", "deep.yaml"))
    assert time.perf_counter() - start < 10.0
    assert "values; store large matrices in .npy files" in big
    assert "deep.yaml:1: nesting deeper than" in deep


def test_deep_flow_is_refused_by_qac_on_its_line_whatever_libyaml_allows(tmp_path):
    """libyaml (PyYAML >= 6.0.4) stops a 1000-deep flow line itself; qac's check comes first."""
    text = "name: deep\nQ: [[0.1]]\nK: " + "{a: " * 5000 + "\n"
    assert f"deep.yaml:3: nesting deeper than {MAX_YAML_DEPTH} levels" in spec_error(write(tmp_path, text, "deep.yaml"))
    just = "Q: " + "[" * MAX_YAML_DEPTH + "]" * MAX_YAML_DEPTH + "\n"
    assert yamlfile.too_deep_flow(just, MAX_YAML_DEPTH) is None
    quoted = "name: '" + "[" * 2000 + "'\nnote: |\n  " + "{" * 2000 + "\n# " + "[" * 2000 + "\n"
    assert yamlfile.too_deep_flow(quoted, MAX_YAML_DEPTH) is None


def flow_depth(text: str) -> int:
    """The deepest flow-collection nesting, from PyYAML's pure-Python parser's events."""
    stack, deepest = [], 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append(bool(event.flow_style))
            deepest = max(deepest, sum(stack))
        elif isinstance(event, yaml.CollectionEndEvent):
            stack.pop()
    return deepest


@given(st.text(alphabet="[]{},:-'\"#|> \n\n  a1", max_size=30), st.integers(0, 2))
def test_flow_depth_check_agrees_with_the_parser(text, max_depth):
    try:
        depth = flow_depth(text)
    except yaml.YAMLError:
        return
    assert (yamlfile.too_deep_flow(text, max_depth) is not None) == (depth > max_depth)


@pytest.mark.parametrize("kind, fragment", [
    ("loop", "'q.npy' is a symbolic link loop (at "),
    ("dangling", "'q.npy' is a symbolic link to 'gone.npy', which does not exist (at "),
    ("directory", "'q.npy' is a directory, not a file (at "),
    ("fifo", "'q.npy' is not a regular file (a device, socket or pipe) (at "),
])
def test_npy_paths_that_are_not_files_say_what_they_are(tmp_path, kind, fragment):
    """Before: a directory or a symlink loop named x.npy was reported as "not found"."""
    target = tmp_path / "q.npy"
    if kind == "loop":
        target.symlink_to("q.npy")
    elif kind == "dangling":
        target.symlink_to("gone.npy")
    elif kind == "directory":
        target.mkdir()
    else:
        os.mkfifo(target)
    with pytest.raises(SpecError) as caught:
        load_spec({"Q": "q.npy", "K": [[1.0, 2.0]], "V": [[1.0]]}, base_dir=tmp_path)
    assert str(caught.value).startswith(f"<spec>: Q: {fragment}{target}); give the path of a .npy file"), caught.value


def test_compile_passes_with_encoding_is_refused_and_with_options_merges_only_what_was_set(tmp_path):
    """``compile.passes`` overrode ``encoding:`` silently; a spec setting both is refused at the
    line of ``passes``; pipeline text errors carry that line too."""
    text = variant(optimization_level="  passes: normalize,encode,estimate,layout")
    with pytest.raises(SpecError, match=r"attention.yaml:13: compile.passes: sets a pipeline and encoding and "
                                        r"estimator, which the pipeline overrides; write encode\{method=binary\} and "
                                        r"estimate\{method=interference\} in the pipeline text or delete them$"):
        load_spec(write(tmp_path, text))
    bad = variant(encoding=None, estimator=None, optimization_level="  passes: normalize,encode{method=foo},estimate,layout")
    with pytest.raises(SpecError, match=r"attention.yaml:11: compile.passes: encode: unknown encoding 'foo'; choose"):
        load_spec(write(tmp_path, bad))
    spec = load_spec({"Q": [[1.0, 2.0]], "K": [[1.0, 0.0]], "V": [[1.0]]})
    piped = spec.with_options(compile={"passes": "normalize,encode{method=unary_parallel},estimate{method=swap},layout"})
    assert piped.compile.passes.startswith("normalize") and piped.compile.encoding == "binary"
    with pytest.raises(SpecError, match="sets a pipeline and estimator"):
        piped.with_options(compile={"estimator": "swap"})


def test_plain_rows_take_the_fast_path_and_equal_the_checked_one():
    """Lists of plain floats/ints skip the per-entry checks; anything else is checked entry by entry."""
    from qac.spec.arrays import _plain_rows, from_rows

    rows = np.random.default_rng(0).standard_normal((5, 7)).tolist()
    rows[2][3] = 4  # an int is plain
    assert _plain_rows(rows) is not None
    mixed = [list(r) for r in rows]
    mixed[4][6] = np.float64(mixed[4][6])  # a numpy scalar takes the checked path, to the same array
    assert _plain_rows(mixed) is None
    assert np.array_equal(from_rows(rows), from_rows(mixed)) and from_rows(rows).dtype == np.float64
    for bad in ([[1.0, True]], [[1.0, float("nan")]], [[1.0, 10**400]], [[1.0], [1.0, 2.0]], [[1.0, "2"]]):
        assert _plain_rows(bad) is None
