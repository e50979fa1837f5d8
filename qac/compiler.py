"""``qac.compile``: spec → L1 → … → L4 through the pass pipeline, and the object it returns."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from qac.errors import CompileError, ExecutionError
from qac.ir import AttentionGraph, IsaProgram
from qac.pipeline import CompileContext, format_pipeline, parse_pipeline, run_pipeline


def compile(spec_or_path: Any, target: str | os.PathLike = "aer", *, seed: int | None = None,
            passes: str | None = None, keep_snapshots: bool = False) -> CompiledAttention:
    """Compile an attention spec for a target.

    Args:
        spec_or_path: a path to attention.yaml, a mapping with the same keys, or a ``Spec``.
        target: a target name (``qac targets`` lists them) — ``aer`` by default.
        seed: overrides the spec's seed (transpiler and sampler).
        passes: pipeline text overriding the spec's ``compile`` options, e.g.
            ``"normalize,encode{method=binary},estimate{method=interference},layout{optimization_level=3}"``.
        keep_snapshots: keep the IR text after each pass (``--print-after-all``).

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

    pipeline = parse_pipeline(passes or spec.compile.passes or default_pipeline(spec, description))
    context = CompileContext(target=description, seed=spec.seed)
    context.timings["frontend"] = 0.0
    graph = AttentionGraph.from_spec(spec)
    outcome = run_pipeline(pipeline, graph, context, keep_snapshots=keep_snapshots)
    if not isinstance(outcome.module, IsaProgram):
        raise CompileError(f"pipeline: it ends at {outcome.module.level}, not L4; end it with the 'layout' pass")
    return CompiledAttention(spec, description, outcome.module, format_pipeline(pipeline),
                             outcome.timings, outcome.snapshots)


class CompiledAttention:
    """An attention kernel compiled for one target: ISA templates plus bindings tables."""

    def __init__(self, spec, target, program: IsaProgram, pipeline: str, timings: dict, snapshots: list):
        self.spec = spec
        self.target = target
        self.program = program
        self.pipeline = pipeline
        self.timings = timings
        self.snapshots = snapshots

    # -- structure
    @property
    def kernels(self):
        return self.program.module.plan.kernels

    def _template_of(self, kernel) -> str:
        return self.program.module.bindings[kernel.name].template

    def _estimator_of(self, kernel):
        from qac.passes.estimate import ESTIMATORS

        return ESTIMATORS[self.program.module.templates[self._template_of(kernel)].estimator]

    def pubs(self) -> list[tuple[Any, np.ndarray]]:
        """Sampler PUBs ``(isa_template, parameter_values)``, one per kernel (heads in order)."""
        return [(self.program.isa[self._template_of(k)], self.program.module.bindings[k.name].values)
                for k in self.kernels]

    def circuits(self, kernel: str | None = None) -> list:
        """Bound ISA circuits, one per estimated (query, key) pair, kernels in order."""
        chosen = [k for k in self.kernels if kernel in (None, k.name)]
        if kernel is not None and not chosen:
            raise ExecutionError(f"no kernel named {kernel!r}; kernels: {', '.join(k.name for k in self.kernels)}")
        out = []
        for k in chosen:
            isa = self.program.isa[self._template_of(k)]
            out += [isa.assign_parameters(row) for row in self.program.module.bindings[k.name].values]
        return out

    def qasm(self, template: str | None = None) -> str:
        """OpenQASM 3 of an ISA template (parameters as ``input float[64]``); the first by default."""
        from qac.emit import qasm_text

        names = sorted(self.program.isa)
        name = names[0] if template is None else template
        if name not in self.program.isa:
            raise ExecutionError(f"no template named {name!r}; templates: {', '.join(names)}")
        return qasm_text(self.program.isa[name])

    def resources(self) -> list[dict]:
        """Per kernel: template, rows (circuits), qubits, two-qubit gates, depth, physical qubits."""
        rows = []
        for k in self.kernels:
            name = self._template_of(k)
            rows.append({"kernel": k.name, "head": k.head, "template": name, "d": k.d, "d_pad": k.d_pad,
                         "circuits": int(len(k.pairs)), "settled_zero": k.settled_zero,
                         "masked": int((~k.visible).sum()),
                         **{key: v for key, v in self.program.facts["resources"][name].items() if key != "operations"},
                         "physical_qubits": self.program.facts["physical_qubits"][name]})
        return rows

    @cached_property
    def exact(self) -> np.ndarray:
        from qac.execute import exact_output

        return exact_output(self.spec)

    # -- outputs
    def manifest(self) -> dict:
        from qac.emit import build_manifest

        return build_manifest(self)

    def save(self, directory: str | os.PathLike, *, force: bool = False) -> Path:
        """Write kernels/*.qasm, program.qpy, logical.qpy, bindings.npz, manifest.json, timings.json."""
        from qac.emit import save

        return save(self, Path(directory), force=force)

    def run(self, shots: int | None = None, *, noise: bool = False, seed: int | None = None,
            exact: bool = False, mitigation: bool | None = None, precision: float | None = None):
        """Run on Aer and reconstruct the attention output with error bars.

        Args:
            shots: shots per circuit (default: the spec's ``shots``).
            noise: simulate with the target's noise model.
            seed: sampler seed (default: the spec's seed).
            exact: skip sampling; use each bound circuit's exact outcome probabilities.
            mitigation: readout + signal-rescale mitigation (default: on when ``noise``).
            precision: wanted standard error of the output; sets the shots per kernel.
        """
        from qac import execute

        if mitigation or precision is not None:
            raise ExecutionError("mitigation and precision-driven shots are not available yet; "
                                 "run without --mitigation/--precision")

        estimators = [self._estimator_of(k) for k in self.kernels]
        pubs = self.pubs()
        if exact:
            if noise:
                raise ExecutionError("exact=True computes noiseless probabilities; drop noise=True or exact=True")
            decoded, shots = execute.exact_estimates(pubs, estimators), None
        else:
            shots = self.spec.shots if shots is None else shots
            if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots <= 0:
                raise ExecutionError(f"shots must be a positive whole number, not {shots!r}")
            noise_model = None
            if noise:
                noise_model = self.target.noise_model()
                if noise_model is None:
                    raise ExecutionError(f"target '{self.target.name}' has no noise model; "
                                         f"use a device target such as ibm_brisbane for --noise")
            decoded = execute.sample_estimates(pubs, estimators, shots=int(shots),
                                               seed=self.spec.seed if seed is None else seed,
                                               noise_model=noise_model)
        estimates = {k.name: d for k, d in zip(self.kernels, decoded)}
        output, stderr, scores, scores_stderr = execute.reconstruct(self.spec, self.program.module.plan, estimates)
        return execute.Result(output=output, stderr=stderr, exact=self.exact, scores=scores,
                              scores_stderr=scores_stderr, inner_products=estimates, shots=shots,
                              noise=noise, target=self.target.name)
