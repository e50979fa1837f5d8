"""The pipeline: text and back, level checks, timings and snapshots of every pass (``choose`` and
the ``resources`` analysis included), ``auto`` on any target, and the transpile cache."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from qac.passes import ANALYSES, PASSES, default_pipeline, parse
from qac.passes import layout as layout_pass
from qac.passes.layout import TemplateCache

import qac
from qac import targets
from qac.compiler import RunDefaults, compile_graph
from qac.errors import CompileError, InternalError
from qac.ir import AttentionGraph
from qac.ir.pipeline import (
    CompileContext,
    Pass,
    format_pipeline,
    parse_pipeline,
    run_pipeline,
)
from qac.spec import load_spec
from tests.conftest import spec_mapping

USER_DEVICE = """\
format: qac-device/1
name: toy5
vendor: Acme
qubits: 5
coupling: {edges: [[0, 1], [1, 2], [2, 3], [3, 4]]}
gates:
  rz: {error: 0.0, duration_ns: 0}
  sx: {error: 0.001, duration_ns: 30}
  cz: {error: 0.01, duration_ns: 60}
readout: {p1_given_0: 0.01, p0_given_1: 0.03}
coherence: {t1_us: 100, t2_us: 80}
source: made up for a test
"""


def _auto_spec(tmp_path, **extra):
    rng = np.random.default_rng(8)
    text = json.dumps(spec_mapping(rng.standard_normal((3, 4)), rng.standard_normal((3, 4)),
                                   rng.standard_normal((3, 2)), name="auto_toy", seed=5, shots=1024,
                                   compile={"encoding": "auto", "estimator": "auto"}, **extra))
    path = tmp_path / "auto.yaml"
    path.write_text(text)  # JSON is YAML
    return path


def _mapping(seed: int, **options) -> dict:
    rng = np.random.default_rng(seed)
    return spec_mapping(rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 2)),
                        seed=5, **options)


# ------------------------------------------------------------------ text and back
@pytest.mark.parametrize("text", [
    "normalize,encode{method=binary},estimate{method=interference},layout{optimization_level=1}",
    "normalize,encode{method=unary_diagonal},estimate{method=compute_uncompute,tree=star},"
    "layout{optimization_level=3,trials=4},cost{auto=estimator,shots=1000,precision=0.02},pack{copies=auto,gap=1,"
    "optimization_level=1}",
    "choose{encoding=auto,estimator=auto,shots=1024,precision=0.01},layout{optimization_level=3,trials=4}",
    "choose{encoding=binary,estimator=auto,shots=4096,precision=0.05},layout{optimization_level=2}",
])
def test_pipeline_text_round_trips(text):
    assert format_pipeline(parse(text)) == text
    assert format_pipeline(parse_pipeline(text, PASSES)) == text


def test_quiet_options_are_left_out_at_their_default_and_written_otherwise():
    assert format_pipeline(parse("estimate{tree=auto},cost{auto=},layout{trials=1}")) == (
        "estimate{method=interference},cost{shots=4096,precision=0.01},layout{optimization_level=1}")
    assert format_pipeline(parse("estimate{tree=routed},cost{auto=encoding}")) == (
        "estimate{method=interference,tree=routed},cost{auto=encoding,shots=4096,precision=0.01}")


def test_the_parser_reads_only_the_registry_it_is_given():
    with pytest.raises(CompileError, match="unknown pass 'layout'; known passes: normalize"):
        parse_pipeline("normalize,layout", {"normalize": PASSES["normalize"]})


@pytest.mark.parametrize("text,fragment", [
    ("choose{encoding=binary,estimator=interference}", "nothing is left to choose"),
    ("choose{encoding=ternary}", "choose: unknown encoding 'ternary'"),
    ("choose{shots=0}", "shots must be >= 1"),
])
def test_bad_choose_options_are_clear_errors(text, fragment):
    with pytest.raises(CompileError) as info:
        parse(text)
    assert fragment in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("text,fragment", [
    ("choose,normalize,encode,estimate,layout", "stands for normalize,encode,estimate; remove normalize, encode"),
    ("choose", "needs a layout pass after it"),
    ("choose{shots=100},layout,cost{shots=200}", "ranks at shots=100"),
])
def test_choose_in_a_wrong_pipeline_is_a_clear_error(text, fragment):
    with pytest.raises(CompileError) as info:
        qac.compile(_mapping(1), "aer", passes=text)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_default_pipeline_is_concrete_or_chooses():
    fez, aer = targets.get("ibm_fez"), targets.get("aer")
    assert default_pipeline(fez, optimization_level=2) == (
        "normalize,encode{method=binary},estimate{method=interference},layout{optimization_level=2}")
    assert default_pipeline(fez, encoding="auto", shots=100) == (
        "choose{encoding=auto,estimator=interference,shots=100,precision=0.01},"
        "layout{optimization_level=3,trials=4}")
    assert default_pipeline(aer, estimator="auto", precision=0.05) == (
        "choose{encoding=binary,estimator=auto,shots=4096,precision=0.05},layout{optimization_level=3}")


# ------------------------------------------------------------------ levels
def test_a_pass_given_the_wrong_level_is_a_user_error():
    graph = AttentionGraph.from_spec(load_spec(_mapping(1)))
    with pytest.raises(CompileError, match="pass 'encode' reads L2 but receives L1; reorder the pipeline"):
        run_pipeline(parse("encode,normalize"), graph, CompileContext(targets.get("aer")))
    with pytest.raises(CompileError, match="ends at L3, not L4"):
        qac.compile(_mapping(1), "aer", passes="normalize,encode,estimate")


@dataclass(frozen=True)
class _Liar(Pass):
    name = "liar"
    reads = "L1"
    writes = "L4"

    def run(self, module, context):
        return module  # still L1


def test_a_pass_that_lies_about_its_level_is_an_internal_error():
    graph = AttentionGraph.from_spec(load_spec(_mapping(1)))
    with pytest.raises(InternalError, match="pass 'liar' left L1, declared L4"):
        run_pipeline([_Liar()], graph, CompileContext(targets.get("aer")))
    assert not issubclass(InternalError, qac.QacError)


# ------------------------------------------------------------------ timings and snapshots
def test_every_pass_is_timed_and_snapshotted_including_choose_and_the_analysis():
    compiled = qac.compile(_mapping(2, compile={"encoding": "auto", "estimator": "auto"}), "aer", pack=None,
                           keep_snapshots=True)
    ran = ["choose", "normalize", "encode", "estimate", "layout", "resources", "cost"]
    assert set(compiled.timings) == {"frontend", *ran}
    assert all(value >= 0 for value in compiled.timings.values())
    labels = [label.split("{")[0] for label, _ in compiled.snapshots]
    assert labels == ["input", *ran]
    choose_text = dict(compiled.snapshots)[compiled.snapshots[1][0]]
    choice = compiled.program.cost.auto.choice
    assert f"1. {choice.encoding}/{choice.estimator}" in choose_text
    # the recorded pipeline is the resolved one: no choose, the picked methods, cost{auto=...}
    assert compiled.pipeline == (f"normalize,encode{{method={choice.encoding}}},estimate{{method={choice.estimator}}},"
                                 f"layout{{optimization_level=3}},cost{{auto=encoding+estimator,shots=4096,"
                                 f"precision=0.01}}")


def test_analyses_run_after_every_pass_that_writes_l4_and_measure_each_template_once(monkeypatch):
    from qac.passes import resources

    measured = []
    original = resources.template_resources
    monkeypatch.setattr(resources, "template_resources",
                        lambda isa, target: measured.append(isa.name) or original(isa, target))
    compiled = qac.compile(_mapping(3), "ibm_fez", passes="normalize,encode,estimate,layout,cost,pack{copies=2}",
                           keep_snapshots=True, cache=TemplateCache())
    labels = [label.split("{")[0] for label, _ in compiled.snapshots]
    assert labels == ["input", "normalize", "encode", "estimate", "layout", "resources", "cost", "pack", "resources"]
    assert sorted(measured) == sorted(compiled.program.isa) == ["binary_interference_d4", "binary_interference_d4_x2"]
    assert [type(a).__name__ for a in ANALYSES] == ["Resources"]


# ------------------------------------------------------------------ auto on every target
def test_auto_compiles_for_a_user_device_file_and_for_brisbane(tmp_path):
    """The choice reads the target from the context (the old lookup by name failed with
    'unknown target' for device files); choose and its time are in --print-after-all and timings.json."""
    (tmp_path / "dev.yaml").write_text(USER_DEVICE)
    spec = _auto_spec(tmp_path)
    for target in ("dev.yaml", "ibm_brisbane"):
        out = tmp_path / f"out_{target}"
        proc = subprocess.run([sys.executable, "-m", "qac.cli", "compile", str(spec), "--target", target, "-o", str(out),
                               "--print-after-all"], capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "// IR after choose{encoding=auto,estimator=auto,shots=1024,precision=0.01}" in proc.stdout
        timings = json.loads((out / "timings.json").read_text())
        assert timings["choose"] > 0 and {"normalize", "layout", "resources", "cost"} <= set(timings)
        manifest = json.loads((out / "manifest.json").read_text())
        auto = manifest["cost"]["auto"]
        assert manifest["pipeline"].startswith(f"normalize,encode{{method={auto['choice']['encoding']}}}")
        assert "choose" not in manifest["pipeline"]
        assert manifest["templates"][0]["two_qubit_gates"] == auto["choice"]["two_qubit_gates"]
        assert manifest["target"]["name"] == ("toy5" if target == "dev.yaml" else target)


def test_the_resolved_pipeline_compiles_to_the_same_manifest(tmp_path):
    (tmp_path / "dev.yaml").write_text(USER_DEVICE)
    device = targets.get(tmp_path / "dev.yaml")
    mapping = _mapping(4, compile={"encoding": "auto", "estimator": "auto"})
    first = qac.compile(mapping, device)
    again = qac.compile(mapping, device, passes=first.pipeline, cache=TemplateCache())  # no choose: cost ranks
    assert again.pipeline == first.pipeline
    assert again.manifest() == first.manifest()


# ------------------------------------------------------------------ the transpile cache
def _count_transpiles(monkeypatch) -> list:
    calls = []
    original = layout_pass._transpile_once
    monkeypatch.setattr(layout_pass, "_transpile_once",
                        lambda circuit, target, **kw: calls.append(circuit.name) or original(circuit, target, **kw))
    return calls


def test_a_second_kernel_of_the_same_shape_transpiles_nothing(monkeypatch):
    calls, cache = _count_transpiles(monkeypatch), TemplateCache()
    first = qac.compile(_mapping(5), "ibm_fez", cache=cache)
    assert len(calls) == 1 and cache.transpiles == 1
    second = qac.compile(_mapping(6), "ibm_fez", cache=cache)  # other data, same shape
    assert len(calls) == 1 and cache.hits == 1
    assert not np.array_equal(first.program.module.bindings["h0_scores"].values,
                              second.program.module.bindings["h0_scores"].values)
    assert first.qasm() == second.qasm()
    qac.compile(_mapping(6), "ibm_fez", cache=cache, seed=9)  # another seed: another layout
    qac.compile(_mapping(6), "ibm_brisbane", cache=cache)  # another target
    assert len(calls) == 3


def test_graph_compiles_share_the_cache_and_match_spec_compiles(monkeypatch, tmp_path):
    calls, cache = _count_transpiles(monkeypatch), TemplateCache()
    spec = load_spec(_mapping(7, shots=512))
    by_spec = qac.compile(spec, "ibm_fez", cache=cache)
    graph = AttentionGraph.from_spec(load_spec(_mapping(8, shots=512)))
    by_graph = compile_graph(graph, "ibm_fez", seed=5, shots=512, cache=cache, name="from_tensors")
    assert len(calls) == 1  # one transpile per shape
    assert by_graph.spec == RunDefaults("from_tensors", 5, 512, None)
    assert by_graph.pipeline == by_spec.pipeline
    assert by_graph.program.isa["binary_interference_d4"] is not by_spec.program.isa["binary_interference_d4"]
    again = compile_graph(AttentionGraph.from_spec(spec), targets.get("ibm_fez"), seed=5, cache=TemplateCache())
    np.testing.assert_array_equal(again.program.module.bindings["h0_scores"].values,
                                  by_spec.program.module.bindings["h0_scores"].values)
    assert again.qasm() == by_spec.qasm()
    with pytest.raises(qac.OutputError, match="compiled from a graph, not a spec"):
        by_graph.save(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cached_and_fresh_compiles_write_the_same_bytes(example_spec, tmp_path):
    shared = TemplateCache()
    qac.compile(example_spec, "ibm_fez", cache=shared)
    hit = qac.compile(example_spec, "ibm_fez", cache=shared).save(tmp_path / "hit")
    fresh = qac.compile(example_spec, "ibm_fez", cache=TemplateCache()).save(tmp_path / "fresh")
    assert shared.hits == 1
    for path in sorted(p for p in fresh.rglob("*") if p.is_file() and p.name != "timings.json"):
        assert path.read_bytes() == (hit / path.relative_to(fresh)).read_bytes(), path.name
