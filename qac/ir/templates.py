"""L3 ``CircuitModule``: one parametrised template per kernel shape (with its decoding and calibration
rows) plus a bindings table per kernel (a row of parameter values per estimated pair)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from qac.errors import CompileError, InternalError
from qac.ir.kernel_plan import KernelPlan

if TYPE_CHECKING:  # pragma: no cover
    from qiskit import QuantumCircuit



# ----------------------------------------------------------------------------- L3
@dataclass(frozen=True, eq=False)
class Decoding:
    """How a template's outcomes become an inner product, so a run needs no estimator class.

    The mean of ``outcome_values`` (f over the 2^bits outcomes) is the inner product for a
    signed estimator, and s = ((1 + c)/2)² for an unsigned one (``qac.kernels.decode.finish``).
    ``odd``: the ideal mean flips sign with b̂, so a noisy run symmetrises each pair with (â, −b̂).
    """

    outcome_values: np.ndarray  # (2^bits,) float64
    signed: bool
    odd: bool


@dataclass(frozen=True, eq=False)
class Calibration:
    """Rows of known-overlap pairs bound into a template, and their ideal means of f.

    Bound at compile time by the same binder as the data rows (``passes/calibration.py``);
    a noisy mitigated run runs them beside the data to fit the signal rescale. The ideal means
    are the logical template's exact means of f on these rows (``qac.kernels.exact``), taken when a
    mitigated run first asks: a statevector per row would cost every compile ~0.3 s (about
    10x an ``aer`` compile of the example) and minutes for wide unary registers.
    """

    values: np.ndarray  # (R, num_parameters)
    negated: np.ndarray | None  # (R, num_parameters): the (û, −ŵ) partners when the estimator is odd
    pattern: np.ndarray  # (R,) which random pattern each row belongs to
    circuit: QuantumCircuit  # the logical template the rows bind
    outcome_values: np.ndarray  # f(outcome) of its estimator

    @cached_property
    def ideal(self) -> np.ndarray:
        """(R,) exact mean of f per row (antisymmetrised, (m₊ − m₋)/2, when ``negated`` is set)."""
        from qac.kernels.exact import cached_exact_means

        ideal = cached_exact_means(self.circuit, self.values, self.outcome_values)
        if self.negated is not None:
            ideal = (ideal - cached_exact_means(self.circuit, self.negated, self.outcome_values)) / 2
        return ideal


@dataclass(frozen=True, eq=False)
class Template:
    """A parametrised logical circuit; data enters only through its parameters."""

    name: str
    circuit: QuantumCircuit
    encoding: str
    estimator: str
    lanes: int  # lanes of one vector register: d padded, plus the offset lane of unsigned estimators
    tree: str = "routed"  # the joint tree's shape (binary interference): "routed" or "star"
    decoding: Decoding | None = None  # set by `estimate`
    calibration: Calibration | None = None  # set by `estimate` (None when no kernel of this shape has pairs)

    @cached_property
    def num_parameters(self) -> int:
        """The circuit's parameter count, read once: Qiskit recounts on every read (≈0.2 ms), and a
        model forward asks for each of its hundreds of kernels."""
        return self.circuit.num_parameters


class Binding:
    """The rows of parameter values that turn a template into one kernel's circuits.

    ``values`` (P, num_parameters), one row per pair of ``kernel.pairs``, and ``partner_values``
    (the (â, −b̂) rows when the estimator is odd) are given as arrays, or as a *binder*: a
    callable ``binder(index) -> rows`` with a ``shape`` (``qac.kernels.binding.PairBinder``), a
    pure function of the compiled kernel's own data. Then a table is bound on first read of
    ``values``/``partner_values`` and kept; ``rows(index)`` binds only the rows asked for (an
    ideal closed-form run reads its spot-checked rows only; issue 22, "bind only what the run
    reads"). Either way the rows are the same numbers (the binder works row by row).
    """

    __slots__ = ("kernel", "template", "_tables", "_binders", "shape", "has_partners")

    def __init__(self, kernel: str, template: str, values, partner_values=None):
        self.kernel, self.template = kernel, template
        self._tables: list = [None, None]
        self._binders: list = [None, None]
        for k, source in enumerate((values, partner_values)):
            if source is None:
                continue
            if callable(source):
                self._binders[k] = source
            else:
                self._tables[k] = np.asarray(source, dtype=float)
        self.shape = tuple(self._source(0).shape)
        self.has_partners = partner_values is not None

    def _source(self, k: int):
        return self._tables[k] if self._tables[k] is not None else self._binders[k]

    def _table(self, k: int) -> np.ndarray | None:
        if self._tables[k] is None and self._binders[k] is not None:
            table = self._binders[k](np.arange(self.shape[0]))
            if not np.all(np.isfinite(table)):
                raise InternalError(f"bindings of {self.kernel} hold non-finite angles")
            self._tables[k] = table
        return self._tables[k]

    @property
    def values(self) -> np.ndarray:
        return self._table(0)

    @property
    def partner_values(self) -> np.ndarray | None:
        return self._table(1) if self.has_partners else None

    @property
    def bound(self) -> bool:
        """Whether the data table is held (given, or bound by a read of ``values``)."""
        return self._tables[0] is not None

    def binder(self, partner: bool = False):
        """The binder of the data (or partner) rows while the table is not held, else None."""
        k = int(partner)
        return None if self._tables[k] is not None else self._binders[k]

    def rows(self, index: np.ndarray, *, partner: bool = False) -> np.ndarray:
        """The rows ``index`` of the data (or partner) table, binding only those if it is not held."""
        k = int(partner)
        if self._tables[k] is not None:
            return self._tables[k][index]
        rows = self._binders[k](np.asarray(index, dtype=np.int64))
        if not np.all(np.isfinite(rows)):
            raise InternalError(f"bindings of {self.kernel} hold non-finite angles")
        return rows


@dataclass(frozen=True, eq=False)
class CircuitModule:
    """L3: templates (one per kernel shape) and bindings (one table per kernel)."""

    plan: KernelPlan
    templates: dict[str, Template]
    bindings: dict[str, Binding]

    level = "L3"

    def verify(self) -> None:
        for kernel in self.plan.kernels:
            b = self.bindings.get(kernel.name)
            if b is None or b.template not in self.templates:
                raise CompileError(f"internal: kernel {kernel.name} has no bindings or template")
            t = self.templates[b.template]
            if b.shape != (len(kernel.pairs), t.num_parameters):
                raise CompileError(f"internal: bindings of {kernel.name} have shape {b.shape}, "
                                   f"expected {(len(kernel.pairs), t.num_parameters)}")
            if b.bound and not np.all(np.isfinite(b.values)):  # a binder checks the rows it binds
                raise CompileError(f"internal: bindings of {kernel.name} hold non-finite angles")
            if b.has_partners and tuple(b._source(1).shape) != b.shape:
                raise InternalError(f"sign partners of {kernel.name} have shape {tuple(b._source(1).shape)}, "
                                    f"not the data rows' {b.shape}")
        for t in self.templates.values():
            cal = t.calibration
            if cal is None:
                continue
            rows = len(cal.pattern)
            if cal.values.shape != (rows, t.num_parameters) or len(cal.pattern) != rows or (
                    cal.negated is not None and cal.negated.shape != cal.values.shape):
                raise InternalError(f"calibration rows of template {t.name} do not match its parameters")

    def describe(self) -> str:
        lines = [f"CircuitModule (L3): {len(self.templates)} template(s), {len(self.bindings)} binding table(s)"]
        for t in self.templates.values():
            ops = dict(t.circuit.count_ops())
            lines.append(f"  template {t.name}: {t.encoding}/{t.estimator}, {t.circuit.num_qubits} qubits, "
                         f"{t.num_parameters} parameters, ops {ops}")
        for b in self.bindings.values():
            lines.append(f"  bindings {b.kernel} -> {b.template}: {b.shape[0]} rows")
        return "\n".join(lines)
