"""``qac.compile``: spec → L1 → … → L4 through the pass pipeline, and the object it returns."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from qac.errors import CompileError, ExecutionError
from qac.ir import AttentionGraph, IsaProgram
from qac.pipeline import CompileContext, format_pipeline, parse_pipeline, run_pipeline


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


def compile_graph(graph: AttentionGraph, target: str | os.PathLike = "aer", *, seed: int = 0,
                  encoding: str = "binary", estimator: str = "interference", optimization_level: int = 1,
                  passes: str | None = None, pack: int | str | None = None, shots: int = 1024,
                  precision: float | None = None, name: str | None = None, keep_snapshots: bool = False,
                  cache=None) -> CompiledAttention:
    """Compile an ``AttentionGraph`` built without a spec (``AttentionGraph.from_arrays``, e.g. by
    ``qac.torch``) for a target; ``shots``/``precision``/``seed`` become the run's defaults.

    Minimal version (the real one, with a template cache, comes with the compile-side redesign):
    ``cache`` is accepted for that signature and not used here; every call transpiles each template once.
    """
    from qac import targets

    if encoding == "auto" or estimator == "auto":
        raise CompileError("compile_graph: encoding/estimator 'auto' needs the cost model's spec path; "
                           "name them, e.g. encoding='binary', estimator='interference'")
    description = targets.get(target)
    text = passes or (f"normalize,encode{{method={encoding}}},estimate{{method={estimator}}},"
                      f"layout{{optimization_level={optimization_level}}}")
    if pack is not None and "pack" not in {p.name for p in parse_pipeline(text)}:
        text += f",pack{{copies={pack}}}"
    pipeline = parse_pipeline(text)
    context = CompileContext(target=description, seed=seed)
    outcome = run_pipeline(pipeline, graph, context, keep_snapshots=keep_snapshots)
    if not isinstance(outcome.module, IsaProgram):
        raise CompileError(f"pipeline: it ends at {outcome.module.level}, not L4; end it with the 'layout' pass")
    defaults = RunDefaults(name or graph.name, seed, shots, precision, graph=graph)
    return CompiledAttention(defaults, description, outcome.module, format_pipeline(pipeline),
                             outcome.timings, outcome.snapshots)


@dataclass(frozen=True)
class RunDefaults:
    """What a run of a graph compiled without a spec takes from the compile call."""

    name: str
    seed: int
    shots: int
    precision: float | None = None
    # TEMPORARY shim, until the run path reads the graph (issue 10): the spec fields today's run
    # path reads (Q, K, V, heads, dv_head, scale_value, mask, visible, bias), from the graph.
    graph: AttentionGraph | None = field(default=None, repr=False, compare=False)

    def __getattr__(self, attr: str):
        from qac.ir import Mask, Scale

        graph = self.__dict__.get("graph")
        if graph is None or attr.startswith("__"):
            raise AttributeError(attr)
        masks = [graph.chain(h)["masked"] for h in range(graph.heads)]
        fields = {"Q": lambda: graph.arrays["Q"], "K": lambda: graph.arrays["K"], "V": lambda: graph.arrays["V"],
                  "heads": lambda: graph.heads, "dv_head": lambda: graph.arrays["V"].shape[1] // graph.heads,
                  "scale_value": lambda: graph.chain(0)["scaled"].value, "mask": lambda: "none",
                  "visible": lambda: np.stack([m.visible for m in masks]),
                  "bias": lambda: None if all(m.bias is None for m in masks) else np.stack(
                      [np.zeros(m.visible.shape) if m.bias is None else m.bias for m in masks])}
        if attr not in fields or not all(isinstance(m, Mask) and m.kind == "explicit" for m in masks):
            raise AttributeError(attr)
        assert isinstance(graph.chain(0)["scaled"], Scale)
        return fields[attr]()


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

    @cached_property
    def passes(self) -> list:
        """The pipeline's pass instances (``encode`` binds calibration vectors like the data)."""
        return parse_pipeline(self.pipeline)

    def template_of(self, kernel) -> str:
        return self.program.module.bindings[kernel.name].template

    _template_of = template_of

    def estimator_of(self, kernel):
        from qac.passes.estimate import ESTIMATORS

        return ESTIMATORS[self.program.module.templates[self.template_of(kernel)].estimator]

    _estimator_of = estimator_of

    def outcome_values(self, template: str) -> np.ndarray:
        """f(outcome) of the template's estimator over its 2^bits outcomes."""
        from qac.passes.estimate import ESTIMATORS

        t = self.program.module.templates[template]
        return np.asarray(ESTIMATORS[t.estimator].outcome_values(t.circuit.num_clbits), dtype=float)

    # -- packing (multi-programming, passes/pack.py)
    def packing(self, template: str) -> dict | None:
        return self.program.facts.get("packing", {}).get(template)

    def copies(self, template: str) -> int:
        info = self.packing(template)
        return 1 if info is None else int(info["copies"])

    def pairs_per_circuit(self) -> float:
        pairs = sum(len(k.pairs) for k in self.kernels)
        circuits = sum(-(-len(k.pairs) // self.copies(self.template_of(k))) for k in self.kernels)
        return pairs / circuits if circuits else 1.0

    def packed_values(self, kernel) -> np.ndarray:
        """Rows (P, p) → (⌈P/k⌉, k·p): pair l on copy l mod k; the last row padded with zeros."""
        values = self.program.module.bindings[kernel.name].values
        k = self.copies(self.template_of(kernel))
        if k == 1:
            return values
        rows = -(-len(values) // k)
        padded = np.zeros((rows * k, values.shape[1]))
        padded[:len(values)] = values
        return padded.reshape(rows, k * values.shape[1])

    def execution_circuit(self, template: str, copy: int = 0):
        """The ISA circuit one copy's rows run on. A packed template is simulated copy by copy:
        copy c's gates and bits of the packed ISA circuit (its qubits are disjoint from the
        others', and device noise models have no cross-talk, so the joint distribution is the
        product of the copies'; ``tests/test_pack.py`` checks it against the whole circuit)."""
        info = self.packing(template)
        if info is None:
            return self.program.isa[template]
        key = (template, copy)
        cache = self.__dict__.setdefault("_copy_circuits", {})
        if key not in cache:
            from qiskit import ClassicalRegister, QuantumCircuit

            packed = self.program.isa[info["template"]]
            qubits, bits = set(info["regions"][copy]), info["bits"]
            meas = ClassicalRegister(bits, "meas")
            sub = QuantumCircuit(list(packed.qubits), meas, name=f"{info['template']}_c{copy:02d}")
            first = copy * bits
            for inst in packed.data:
                where = {packed.find_bit(q).index for q in inst.qubits}
                if inst.operation.name == "barrier" or not where <= qubits:
                    continue
                clbits = [meas[packed.find_bit(c).index - first] for c in inst.clbits]
                sub.append(inst.operation, inst.qubits, clbits)
            cache[key] = sub
        return cache[key]

    def readout_circuits(self, template: str, copy: int = 0) -> list:
        from qac.mitigate import readout_circuits

        return readout_circuits(self.execution_circuit(template, copy))

    def pubs(self) -> list[tuple[Any, np.ndarray]]:
        """Sampler PUBs ``(isa_template, parameter_values)``, one per kernel (heads in order);
        packed templates give ⌈P/k⌉ rows of k pairs each."""
        out = []
        for k in self.kernels:
            name = self.template_of(k)
            info = self.packing(name)
            circuit = self.program.isa[name if info is None else info["template"]]
            out.append((circuit, self.packed_values(k)))
        return out

    def circuits(self, kernel: str | None = None) -> list:
        """Bound ISA circuits, one per row of ``pubs()`` (one per pair unless packed), kernels in order."""
        chosen = [k for k in self.kernels if kernel in (None, k.name)]
        if kernel is not None and not chosen:
            raise ExecutionError(f"no kernel named {kernel!r}; kernels: {', '.join(k.name for k in self.kernels)}")
        out = []
        for (isa, values), k in zip(self.pubs(), self.kernels):
            if k in chosen:
                out += [isa.assign_parameters(row) for row in values]
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
        """Per kernel: template, pairs, copies per circuit, circuits, qubits, two-qubit gates, depth,
        physical qubits (of one copy; the manifest's ``placement`` has every copy's)."""
        rows = []
        for k in self.kernels:
            name = self._template_of(k)
            copies = self.copies(name)
            rows.append({"kernel": k.name, "head": k.head, "template": name, "d": k.d, "d_pad": k.d_pad,
                         "pairs": int(len(k.pairs)), "copies": copies,
                         "circuits": int(-(-len(k.pairs) // copies)), "settled_zero": k.settled_zero,
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
            exact: bool = False, mitigation: bool | None = None, precision: float | None = None,
            pilot_shots: int | None = None):
        """Run on Aer and reconstruct the attention output with error bars.

        Args:
            shots: shots per (query, key) pair (default: the spec's ``shots``); with
                ``precision`` they default to a 512-shot pilot.
            noise: simulate with the target's noise model.
            seed: sampler seed (default: the spec's seed).
            exact: skip sampling; use each bound circuit's exact outcome probabilities.
            mitigation: readout correction, sign symmetrisation and signal rescale from
                calibration rows in the same job (default: on when ``noise``); see docs/noise.md.
            precision: wanted standard error of every output entry (default: the spec's
                ``precision``); a pilot run, then shots per score from the delta-method Jacobian.
            pilot_shots: shots per pair of the pilot run of a precision run (default 512, or ``shots``).
        """
        from qac import execute

        if precision is None:
            precision = getattr(self.spec, "precision", None)
        if precision is not None:
            if isinstance(precision, bool) or not isinstance(precision, (int, float, np.floating)) \
                    or not np.isfinite(precision) or not 0 < precision <= 1:
                raise ExecutionError(f"precision must be in (0, 1], not {precision!r}; "
                                     f"give the wanted standard error of the output, e.g. 0.01")
        if mitigation is None:
            mitigation = bool(noise)
        seed = self.spec.seed if seed is None else seed
        if exact:
            if noise or mitigation or precision is not None:
                raise ExecutionError("exact=True computes noiseless infinite-shot probabilities; "
                                     "drop noise/mitigation/precision or exact=True")
            estimators = [self.estimator_of(k) for k in self.kernels]
            pubs = [(self.program.isa[self.template_of(k)], self.program.module.bindings[k.name].values)
                    for k in self.kernels]
            decoded = execute.exact_estimates(pubs, estimators)
            estimates = {k.name: d for k, d in zip(self.kernels, decoded)}
            output, stderr, scores, scores_stderr = execute.reconstruct(self.spec, self.program.module.plan, estimates)
            return execute.Result(output=output, stderr=stderr, exact=self.exact, scores=scores,
                                  scores_stderr=scores_stderr, inner_products=estimates, shots=None,
                                  noise=False, target=self.target.name)
        explicit = shots is not None
        shots = self.spec.shots if shots is None else shots
        for label, value in (("shots", shots), ("pilot_shots", pilot_shots)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0):
                raise ExecutionError(f"{label} must be a positive whole number, not {value!r}")
        if precision is not None and pilot_shots is None and explicit:
            pilot_shots = int(shots)
        return execute.run_compiled(self, shots=int(shots), noise=noise, seed=seed, mitigation=bool(mitigation),
                                    precision=precision, pilot_shots=pilot_shots)
