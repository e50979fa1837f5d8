"""``layout`` (L3 → L4): layout, routing and basis translation, once per template.

Qiskit's staged preset pass manager (init, layout, routing, translation, optimization) on the
target's ``Target`` with its dead couplers removed, seeded for reproducible output. Templates
stay parametrised, so N·M pairs cost one transpile plus N·M bindings, not N·M transpiles —
which is also why the template can afford to be transpiled thoroughly: with ``trials=K`` it
is transpiled with seeds seed, seed + 1, …, seed + K − 1 and the routed circuit with the
fewest two-qubit gates (then the lowest depth, then the highest estimated success
probability) is kept. Every choice is a function of the seed, so output stays byte-identical.

The ``resources`` analysis (``passes/resources.py``) measures the routed templates afterwards;
``layout`` records only how it transpiled (``IsaProgram.layout``).

Transpiles go through a ``TemplateCache`` when the context holds one (the compiler owns a
default one): routed templates by the logical circuit's structure, the target's fingerprint,
the optimisation level, the trials and the seed. Data enters templates only through their
parameters, so a second compile of a same-shape kernel with other data transpiles nothing,
and ``auto``'s winner is not transpiled twice.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, fields

from qac.passes.resources import calibration, counts

from qac.errors import CompileError, TargetError
from qac.ir import CircuitModule, IsaProgram
from qac.ir.pipeline import CompileContext, Pass
from qac.ir.records import LayoutOptions
from qac.kernels.digest import structure_key


def _transpile_once(circuit, target, *, optimization_level: int, seed: int, managers: dict | None = None):
    from qiskit.transpiler import generate_preset_pass_manager

    manager = None if managers is None else managers.get((optimization_level, seed))
    if manager is None:  # building one costs as much as running it on a small template
        manager = generate_preset_pass_manager(optimization_level=optimization_level,
                                               seed_transpiler=seed, **target.transpile_kwargs())
        if managers is not None:
            managers[optimization_level, seed] = manager
    try:
        return manager.run(circuit)
    except Exception as exc:  # Qiskit raises TranspilerError for e.g. no connected region large enough
        raise TargetError(f"cannot lay out template {circuit.name} on '{target.name}': {exc}; "
                          f"use a larger target or a smaller d") from None


def transpile_template(circuit, target, *, optimization_level: int, seed: int, trials: int = 1,
                       managers: dict | None = None):
    """Transpile one logical template for ``target`` (a ``qac.targets.TargetDescription``);
    the best of ``trials`` seeds (fewest two-qubit gates, then depth, then highest ESP).

    ``managers``: a dict the caller keeps for one target, reusing the pass manager of a
    (level, seed) across templates (``auto`` ranks every candidate with one); output unchanged."""
    if circuit.num_qubits > target.num_qubits:
        raise TargetError(f"the kernel needs {circuit.num_qubits} qubits but target '{target.name}' has "
                          f"{target.num_qubits}; use a larger target or a smaller d (or more heads)")
    if trials <= 1:  # nothing to compare: skip the scoring (auto ranks every candidate this way)
        return _transpile_once(circuit, target, optimization_level=optimization_level, seed=seed, managers=managers)
    best, best_key = None, None
    for k in range(trials):
        isa = _transpile_once(circuit, target, optimization_level=optimization_level, seed=seed + k, managers=managers)
        figures = counts(isa)
        key = (figures["two_qubit_gates"], figures["depth"], -calibration(isa, target)["esp"])
        if best_key is None or key < best_key:
            best, best_key = isa, key
    return best


def target_fingerprint(target) -> tuple:
    """Every field of a target description (its name, kind, key/path, coupling, medians, ...)."""
    return tuple((f.name, getattr(target, f.name)) for f in fields(target))


class TemplateCache:
    """Routed templates, keyed by the logical template's structure, the target's fingerprint,
    the optimisation level, the trials and the seed (LRU, ``maxsize`` entries).

    ``transpiles`` counts the transpiles it had to run, ``hits`` the ones it saved; every
    caller gets its own copy of the routed circuit.
    """

    def __init__(self, maxsize: int = 256):
        self.maxsize = maxsize
        self._entries: OrderedDict = OrderedDict()
        self.hits = 0
        self.transpiles = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def transpile(self, circuit, target, *, optimization_level: int, seed: int, trials: int = 1,
                  managers: dict | None = None):
        key = (structure_key(circuit), target_fingerprint(target), optimization_level, trials, seed)
        isa = self._entries.get(key)
        if isa is None:
            isa = transpile_template(circuit, target, optimization_level=optimization_level, seed=seed, trials=trials,
                                     managers=managers)
            self.transpiles += 1
            self._entries[key] = isa
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        else:
            self.hits += 1
            self._entries.move_to_end(key)
        return isa.copy()


def routed(circuit, context: CompileContext, *, optimization_level: int, trials: int, managers: dict | None = None):
    """Transpile through the context's cache (or directly when it has none)."""
    if context.cache is None:
        return transpile_template(circuit, context.target, optimization_level=optimization_level,
                                  seed=context.seed, trials=trials, managers=managers)
    return context.cache.transpile(circuit, context.target, optimization_level=optimization_level,
                                   seed=context.seed, trials=trials, managers=managers)


@dataclass(frozen=True)
class Layout(Pass):
    """Transpile every template once for the context's target (seeded; best of ``trials`` seeds)."""

    name = "layout"
    reads = "L3"
    writes = "L4"
    optimization_level: int = field(default=1)
    trials: int = field(default=1)

    def __post_init__(self):
        if self.optimization_level not in (0, 1, 2, 3):
            raise CompileError(f"layout: optimization_level must be 0, 1, 2 or 3, not {self.optimization_level}")
        if not 1 <= self.trials <= 64:
            raise CompileError(f"layout: trials must be between 1 and 64, not {self.trials}")

    def options_text(self) -> str:  # `trials=1` is the old default: keep old pipeline text unchanged
        text = f"{self.name}{{optimization_level={self.optimization_level}"
        return text + (f",trials={self.trials}}}" if self.trials != 1 else "}")

    def run(self, module: CircuitModule, context: CompileContext) -> IsaProgram:
        isa = {name: routed(t.circuit, context, optimization_level=self.optimization_level, trials=self.trials)
               for name, t in module.templates.items()}
        return IsaProgram(module, isa, context.target.name, LayoutOptions(self.optimization_level, self.trials))
