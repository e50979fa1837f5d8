"""``CompiledAttention``: what ``qac.compile`` returns — a facade over the compiled program.

It holds the L4 program (and through it every lower level) with the spec and target it came
from, and answers the public queries by delegating, one idea per module: packing
(``qac.ir.packing``), per-copy circuits (``qac.execution.copies``), QASM/saving/the manifest
(``qac.artefacts.emit``), runs (``qac.execution.run``). Resources and packing are read from the
program's typed analysis records (``qac/ir/records.py``) through ``IsaProgram``.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

import qac.ir.packing as packing
from qac.errors import ExecutionError
from qac.ir import IsaProgram


class CompiledAttention:
    """An attention kernel compiled for one target: ISA templates plus bindings tables."""

    def __init__(self, spec, target, program: IsaProgram, pipeline: str, timings: dict, snapshots: list):
        self.spec = spec  # run defaults (seed, shots, precision) and the name
        self.target = target
        self.program = program
        self.pipeline = pipeline
        self.timings = timings
        self.snapshots = snapshots
        self.build_files: dict[str, bytes] | None = None  # the files a loaded program came from
        self.source: Path | None = None  # and their directory

    # -- IR queries
    @property
    def kernels(self):
        return self.program.module.plan.kernels

    def template_of(self, kernel) -> str:
        return packing.template_of(self.program, kernel)


    def outcome_values(self, template: str) -> np.ndarray:
        """f(outcome) of the template's estimator over its 2^bits outcomes."""
        return self.program.module.templates[template].decoding.outcome_values

    # -- packing (multi-programming, passes/pack.py)
    def packing(self, template: str) -> dict | None:
        """How the template is packed (template, copies, bits, parameters, regions), or ``None``;
        the typed record is ``program.packing_of(template)``."""
        info = packing.packing_of(self.program, template)
        return None if info is None else info.as_dict()

    def copies(self, template: str) -> int:
        return packing.copies(self.program, template)

    def pairs_per_circuit(self) -> float:
        return packing.pairs_per_circuit(self.program)

    def packed_values(self, kernel) -> np.ndarray:
        return packing.packed_values(self.program, kernel)

    @cached_property
    def execution_circuits(self):
        from qac.execution.copies import ExecutionCircuits

        return ExecutionCircuits(self.program)

    def execution_circuit(self, template: str, copy: int = 0):
        """The ISA circuit one copy's rows run on (``qac/execution/copies.py``)."""
        return self.execution_circuits.circuit(template, copy)

    def readout_circuits(self, template: str, copy: int = 0) -> list:
        return self.execution_circuits.readout(template, copy)

    # -- what a sampler runs
    def pubs(self) -> list[tuple[Any, np.ndarray]]:
        """Sampler PUBs ``(isa_template, parameter_values)``, one per kernel (heads in order);
        packed templates give ⌈P/k⌉ rows of k pairs each."""
        return [(packing.pub_circuit(self.program, self.template_of(k)), self.packed_values(k)) for k in self.kernels]

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
        from qac.artefacts.emit import qasm_text

        names = sorted(self.program.isa)
        name = names[0] if template is None else template
        if name not in self.program.isa:
            raise ExecutionError(f"no template named {name!r}; templates: {', '.join(names)}")
        return qasm_text(self.program.isa[name])

    def resources(self) -> list[dict]:
        """Per kernel: template, pairs, copies per circuit, circuits, qubits, two-qubit gates, depth,
        ESP, duration, physical qubits (of one copy; the manifest's ``placement`` has every copy's)."""
        return self.program.kernel_table()

    @cached_property
    def exact(self) -> np.ndarray:
        """numpy attention of the compiled inputs (L1 graph, L2 masks)."""
        from qac.execution.reconstruct import reference_output

        return reference_output(self.program)

    # -- a build directory as an artefact (qac/artefacts/bundle.py)
    @classmethod
    def load(cls, directory: str | os.PathLike, *, target=None) -> CompiledAttention:
        """The program a ``qac compile -o DIR`` directory holds (``qac/artefacts/bundle.py``): it runs,
        decodes and saves exactly as the program that was compiled (byte-identical result arrays
        for the same options and seed; ``save`` writes the files it was loaded from)."""
        from qac.artefacts.bundle import read

        build = read(directory, target=target)
        compiled = cls(build.spec, build.target, build.program, build.pipeline, build.timings, [])
        compiled.build_files, compiled.source = build.files, build.directory
        return compiled

    def decode_counts(self, counts, *, noise: bool = False, seed: int | None = None):
        """Counts from any sampler, one entry per PUB of ``pubs()``, → the attention output with
        error bars, unmitigated (``qac/execution/counts.py``; docs/bundle.md)."""
        from qac.execution.counts import decode_counts

        return decode_counts(self, counts, noise=noise, seed=seed)

    # -- outputs
    def manifest(self) -> dict:
        from qac.artefacts.emit import build_manifest

        return build_manifest(self)

    def save(self, directory: str | os.PathLike, *, force: bool = False) -> Path:
        """Write kernels/*.qasm, program.qpy, logical.qpy, bindings.npz, manifest.json, timings.json."""
        from qac.artefacts.emit import save

        return save(self, Path(directory), force=force)

    def run(self, shots: int | None = None, *, noise: bool = False, seed: int | None = None,
            exact: bool = False, mitigation: bool | None = None, precision: float | None = None,
            pilot_shots: int | None = None, engine: str | object = "auto", workers: int | None = None,
            scheduler: str | None = None, progress=None, options=None, weights_keep=None,
            errorbars: str = "bootstrap"):
        """Run on an engine and reconstruct the attention output with error bars.

        Args:
            shots: shots per (query, key) pair (default: the spec's ``shots``); with
                ``precision`` they default to a 512-shot pilot.
            noise: simulate with the target's noise model.
            seed: sampler seed (default: the spec's seed). The calibration patterns of a
                mitigated run were drawn at compile time from the compile seed.
            exact: skip sampling; use each bound circuit's exact outcome probabilities.
            mitigation: readout correction, sign symmetrisation and signal rescale from
                calibration rows in the same job (default: on when ``noise``); see docs/noise.md.
            precision: wanted standard error of every output entry (default: the spec's
                ``precision``); a pilot run, then shots per score from the bootstrap's
                sensitivities, refined until the reported bars reach it.
            pilot_shots: shots per pair of the pilot run of a precision run (default 512, or ``shots``).
            engine: ``"auto"`` (the batched simulator wherever it supports the circuit and noise
                model, else Aer; ``Result.engine_metadata`` says which and why), ``"batched"``,
                ``"aer"`` (``qac.execution.engines.ENGINES``), or an engine object with
                ``counts(pubs, *, seed, noise_model)`` (e.g. ``qac.runtime.make_engine(...)`` for a
                real IBM device); recorded in ``Result.engine``.
            workers: spread the batched engine's row chunks over a Dask LocalCluster of this many
                workers (``pip install -e '.[dask]'``); the same seed gives the same result
                whatever the number of workers.
            scheduler: the address of an existing Dask scheduler instead of a LocalCluster.
            progress: a callable ``(rows done, rows in all)`` the batched engine calls per chunk.
            options: a ``qac.execution.options.RunOptions`` (``RunOptions.resolve(...)``) instead of
                the keywords above: the record the CLI, ``qac.torch`` and the runtime build.
            errorbars: ``"bootstrap"`` (default; holds where the softmax is peaked) or ``"delta"``
                (the linearisation at the estimate: free, under-covers peaked rows; for loops
                that read no bar, e.g. a training step). One-stage runs without ``precision``.
            weights_keep: ``pv: quantum`` only: (heads, N, M) factors multiplying P̂ before it is
                bound into the P·V circuits (attention dropout's scaled keep mask, ``qac.torch.training``).
        """
        from qac.execution.run import run

        return run(self, shots, noise=noise, seed=seed, exact=exact, mitigation=mitigation, precision=precision,
                   pilot_shots=pilot_shots, engine=engine, workers=workers, scheduler=scheduler, progress=progress,
                   options=options, weights_keep=weights_keep, errorbars=errorbars)
