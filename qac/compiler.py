"""``qac.compile``: spec → L1 → … → L4 through the pass pipeline, and the object it returns."""

from __future__ import annotations

import os
from typing import Any

from qac.errors import CompileError
from qac.ir import AttentionGraph, IsaProgram
from qac.pipeline import CompileContext, format_pipeline, parse_pipeline, run_pipeline
from qac.program import CompiledAttention


def compile(spec_or_path: Any, target: str | os.PathLike = "aer", *, seed: int | None = None,
            passes: str | None = None, keep_snapshots: bool = False,
            pack: int | str | None = None) -> CompiledAttention:
    """Compile an attention spec for a target.

    Args:
        spec_or_path: a path to attention.yaml, a mapping with the same keys, or a ``Spec``.
        target: a target name (``qac targets`` lists them) — ``aer`` by default.
        seed: overrides the spec's seed (transpiler and sampler).
        passes: pipeline text overriding the spec's ``compile`` options, e.g.
            ``"normalize,encode{method=binary},estimate{method=interference},layout{optimization_level=3}"``.
        keep_snapshots: keep the IR text after each pass (``--print-after-all``).
        pack: place several copies of each template on the device (``"auto"`` or a count):
            appends ``pack{copies=...}`` to the pipeline (multi-programming, ``passes/pack.py``).

    Returns:
        A ``CompiledAttention``: ``.circuits()``, ``.pubs()``, ``.qasm()``, ``.resources()``,
        ``.save(dir)``, ``.run(...)``.
    """
    from qac import targets
    from qac.spec import load_spec

    spec = load_spec(spec_or_path)
    if seed is not None:
        spec = spec.with_options(seed=seed)
    description = targets.get(target)
    from qac.passes import default_pipeline

    text = passes or spec.compile.passes or default_pipeline(spec, description)
    if pack is not None and "pack" not in {p.name for p in parse_pipeline(text)}:
        text += f",pack{{copies={pack}}}"
    pipeline = parse_pipeline(text)
    context = CompileContext(target=description, seed=spec.seed)
    context.timings["frontend"] = 0.0
    graph = AttentionGraph.from_spec(spec)
    outcome = run_pipeline(pipeline, graph, context, keep_snapshots=keep_snapshots)
    if not isinstance(outcome.module, IsaProgram):
        raise CompileError(f"pipeline: it ends at {outcome.module.level}, not L4; end it with the 'layout' pass")
    return CompiledAttention(spec, description, outcome.module, format_pipeline(pipeline),
                             outcome.timings, outcome.snapshots)
