"""``qac.compile``: spec → L1 → … → L4 through the pass pipeline, and the object it returns."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from qac.errors import CompileError
from qac.ir import AttentionGraph, IsaProgram
from qac.ir.pipeline import CompileContext, run_pipeline
from qac.limits import DEFAULT_SHOTS
from qac.passes.layout import TemplateCache
from qac.program import CompiledAttention


@dataclass(frozen=True)
class RunDefaults:
    """What a run reads from its spec, for programs compiled from a graph (``compile_graph``):
    the name, the sampler seed, the shots per pair and the precision (``None``: none asked)."""

    name: str
    seed: int = 0
    shots: int = DEFAULT_SHOTS
    precision: float | None = None


DEFAULT_CACHE = TemplateCache()  # the compiler's: same-shape kernels transpile once per process


def _pipeline_text(passes: str | None, pack, target, *, encoding: str, estimator: str, optimization_level: int,
                   shots: int, precision: float | None) -> str:
    from qac.passes import default_pipeline, parse

    text = passes or default_pipeline(target, encoding=encoding, estimator=estimator,
                                      optimization_level=optimization_level, shots=shots, precision=precision)
    if pack is not None and "pack" not in {p.name for p in parse(text)}:
        text += f",pack{{copies={pack}}}"
    return text


def _lower(graph: AttentionGraph, description, text: str, *, seed: int, keep_snapshots: bool, cache,
           timings: dict[str, float]):
    """Run the pipeline text on an L1 graph; the L4 program and the pipeline run."""
    from qac.passes import ANALYSES, parse

    pipeline = parse(text)
    context = CompileContext(target=description, seed=seed, cache=DEFAULT_CACHE if cache is None else cache,
                             timings=timings)
    outcome = run_pipeline(pipeline, graph, context, analyses=ANALYSES, keep_snapshots=keep_snapshots)
    if not isinstance(outcome.module, IsaProgram):
        raise CompileError(f"pipeline: it ends at {outcome.module.level}, not L4; end it with the 'layout' pass")
    return outcome


def _target(target):
    from qac import targets

    return target if isinstance(target, targets.TargetDescription) else targets.get(target)


def compile_graph(graph: AttentionGraph, target: Any, *, seed: int = 0, encoding: str = "binary",
                  estimator: str = "interference", optimization_level: int = 1, passes: str | None = None,
                  pack: int | str | None = None, shots: int = DEFAULT_SHOTS, precision: float | None = None,
                  name: str | None = None, keep_snapshots: bool = False,
                  cache: TemplateCache | None = None) -> CompiledAttention:
    """Compile an L1 ``AttentionGraph`` (e.g. built from tensors) for a target.

    The same pipeline as ``compile``: ``encoding``/``estimator`` may be ``auto`` (the ``choose``
    pass); ``passes`` overrides them. ``cache`` (default: the compiler's ``DEFAULT_CACHE``)
    holds routed templates, so a second graph of the same shape with other data transpiles
    nothing. ``shots``, ``precision``, ``seed`` and ``name`` are the run's defaults
    (``RunDefaults``, where a spec-built program has its ``Spec``). Quantum P·V is the graph's
    own choice (``AttentionGraph.from_arrays(..., pv="quantum")``).
    """
    from qac.limits import check_seed

    seed = check_seed(seed, error=CompileError)
    description = _target(target)
    text = _pipeline_text(passes, pack, description, encoding=encoding, estimator=estimator,
                          optimization_level=optimization_level, shots=shots, precision=precision)
    outcome = _lower(graph, description, text, seed=seed, keep_snapshots=keep_snapshots, cache=cache, timings={})
    defaults = RunDefaults(name or graph.name, seed, shots, precision)
    return CompiledAttention(defaults, description, outcome.module, outcome.pipeline, outcome.timings,
                             outcome.snapshots)


def compile(spec_or_path: Any, target: str | os.PathLike = "aer", *, seed: int | None = None,
            passes: str | None = None, keep_snapshots: bool = False,
            pack: int | str | None = None, cache: TemplateCache | None = None,
            pv: str | None = None) -> CompiledAttention:
    """Compile an attention spec for a target.

    Args:
        spec_or_path: a path to attention.yaml, a mapping with the same keys, or a ``Spec``.
        target: a target name (``qac targets`` lists them) or a device file — ``aer`` by default.
        seed: overrides the spec's seed (transpiler and sampler).
        passes: pipeline text overriding the spec's ``compile`` options, e.g.
            ``"normalize,encode{method=binary},estimate{method=interference},layout{optimization_level=3}"``.
        keep_snapshots: keep the IR text after each pass (``--print-after-all``).
        pack: place several copies of each template on the device (``"auto"`` or a count):
            appends ``pack{copies=...}`` to the pipeline (multi-programming, ``passes/pack.py``).
        cache: the ``TemplateCache`` of routed templates (default: the compiler's).
        pv: ``"classical"`` (numpy) or ``"quantum"`` (the second MatMul O = P·V on circuits too,
            two-stage runs); overrides the spec's ``compile.pv``.

    Returns:
        A ``CompiledAttention``: ``.circuits()``, ``.pubs()``, ``.qasm()``, ``.resources()``,
        ``.save(dir)``, ``.run(...)``.
    """
    from qac.spec import load_spec

    start = time.perf_counter()
    spec = load_spec(spec_or_path)
    if seed is not None:
        spec = spec.with_options(seed=seed)
    if pv is not None:
        spec = spec.with_options(compile={"pv": pv})
    graph = AttentionGraph.from_spec(spec)
    timings = {"frontend": time.perf_counter() - start}  # spec → L1
    description = _target(target)
    options = spec.compile
    text = _pipeline_text(passes or options.passes, pack, description, encoding=options.encoding,
                          estimator=options.estimator, optimization_level=options.optimization_level,
                          shots=spec.shots, precision=spec.precision)
    outcome = _lower(graph, description, text, seed=spec.seed, keep_snapshots=keep_snapshots, cache=cache,
                     timings=timings)
    return CompiledAttention(spec, description, outcome.module, outcome.pipeline, outcome.timings,
                             outcome.snapshots)
