"""The intermediate levels between a spec and an ISA program.

L1 ``AttentionGraph``: a dataflow graph (networkx) of typed ops — Input, MatMul, Scale,
Mask, Softmax, Output — one chain per head. Q·Kᵀ and P·V are the same op (``MatMul``);
the ``quantum`` flag says which ones the compiler lowers to circuits.

L2 ``KernelPlan``: each quantum MatMul as inner products of unit vectors times classical
norms, ``A·Bᵀ = diag(|a|)·C·diag(|b|)``, ``C_ij = <â_i|b̂_j>``, with the pairs that need a
circuit listed and every other entry settled classically (zero vectors give exactly 0,
masked entries are never computed).

L3 ``CircuitModule``: one parametrised template per kernel shape plus a bindings table per
kernel (a row of parameter values per estimated pair). L4 ``IsaProgram``: the templates
transpiled once for the target, still parametrised.

Every level has ``verify()`` (raises ``CompileError`` on a broken invariant) and
``describe()`` (the text ``--print-after-all`` shows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np

from qac.errors import CompileError, InternalError
from qac.records import CostReport, LayoutOptions, Packing, TemplateResources

if TYPE_CHECKING:  # pragma: no cover
    from qiskit import QuantumCircuit

    from qac.spec import Spec


# ----------------------------------------------------------------------------- L1 ops
@dataclass(frozen=True)
class Input:
    name: str  # "Q", "K" or "V"
    shape: tuple[int, int]


@dataclass(frozen=True)
class MatMul:
    """``lhs[:, columns] · rhs[:, columns]ᵀ`` (scores) or ``lhs · rhs[:, columns]`` (output)."""

    lhs: str
    rhs: str
    head: int
    columns: tuple[int, int]  # the head's slice of the feature axis
    transpose_rhs: bool
    quantum: bool


@dataclass(frozen=True)
class Scale:
    value: float


@dataclass(frozen=True)
class Mask:
    kind: str  # "none" | "causal" (top-left aligned: key j is visible to query i iff j <= i) | "explicit"
    # "explicit" (from arrays, e.g. a torch mask): which entries are visible, (N, M) bool, and a
    # finite additive bias on the scores, (N, M) float or None
    visible: np.ndarray | None = field(default=None, repr=False, compare=False)
    bias: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Softmax:
    axis: int = -1


@dataclass(frozen=True)
class Output:
    heads: int


OPS = (Input, MatMul, Scale, Mask, Softmax, Output)


@dataclass(frozen=True, eq=False)
class AttentionGraph:
    """L1: the attention kernel as a graph of ops, plus the input arrays it reads."""

    graph: nx.DiGraph
    arrays: dict[str, np.ndarray]
    name: str

    level = "L1"

    @classmethod
    def from_spec(cls, spec: Spec) -> AttentionGraph:
        g = nx.DiGraph()
        for key, array in (("Q", spec.Q), ("K", spec.K), ("V", spec.V)):
            g.add_node(key, op=Input(key, tuple(array.shape)))
        for h in range(spec.heads):
            qk_cols = (h * spec.d_head, (h + 1) * spec.d_head)
            v_cols = (h * spec.dv_head, (h + 1) * spec.dv_head)
            scores, scaled, masked, probs, out = (f"h{h}.{s}" for s in ("scores", "scaled", "masked", "probs", "out"))
            g.add_node(scores, op=MatMul("Q", "K", h, qk_cols, transpose_rhs=True, quantum=True))
            g.add_node(scaled, op=Scale(spec.scale_value))
            g.add_node(masked, op=Mask(spec.mask))
            g.add_node(probs, op=Softmax())
            g.add_node(out, op=MatMul(probs, "V", h, v_cols, transpose_rhs=False,
                                      quantum=getattr(spec.compile, "pv", "classical") == "quantum"))
            g.add_edges_from([("Q", scores), ("K", scores), (scores, scaled), (scaled, masked),
                              (masked, probs), (probs, out), ("V", out), (out, "output")])
        g.add_node("output", op=Output(spec.heads))
        graph = cls(g, {"Q": spec.Q, "K": spec.K, "V": spec.V}, spec.name)
        graph.verify()
        return graph

    @classmethod
    def from_arrays(cls, Q, K, V, *, heads: int, scale: float, visible=None, bias=None,
                    name: str = "torch", pv: str = "classical") -> AttentionGraph:
        """The graph of arrays given directly (e.g. by ``qac.torch``): Q (N, heads·d), K (M, heads·d),
        V (M, heads·dv); ``visible`` (heads, N, M) bool and ``bias`` (heads, N, M) additive scores, whose
        −inf entries count as hidden; ``pv="quantum"`` puts O = P·V on circuits too, as the spec's
        ``compile.pv``. Every quantum MatMul reads the same Input ops as ``from_spec``."""
        from qac.limits import check_range

        Q, K, V = (np.asarray(a, dtype=float) for a in (Q, K, V))
        check_range(Q, K, V, scale, heads)  # the dynamic range the pipeline carries, as for specs
        d, dv = Q.shape[1] // heads, V.shape[1] // heads
        shape = (heads, Q.shape[0], K.shape[0])
        seen = np.ones(shape, dtype=bool) if visible is None else np.broadcast_to(np.asarray(visible, dtype=bool), shape)
        if bias is not None:
            bias = np.broadcast_to(np.asarray(bias, dtype=float), shape)
            seen = seen & np.isfinite(bias)
            bias = np.where(seen, bias, 0.0)
        g = nx.DiGraph()
        for key, array in (("Q", Q), ("K", K), ("V", V)):
            g.add_node(key, op=Input(key, tuple(array.shape)))
        for h in range(heads):
            scores, scaled, masked, probs, out = (f"h{h}.{s}" for s in ("scores", "scaled", "masked", "probs", "out"))
            g.add_node(scores, op=MatMul("Q", "K", h, (h * d, (h + 1) * d), transpose_rhs=True, quantum=True))
            g.add_node(scaled, op=Scale(float(scale)))
            g.add_node(masked, op=Mask("explicit", visible=seen[h].copy(), bias=None if bias is None else bias[h].copy()))
            g.add_node(probs, op=Softmax())
            g.add_node(out, op=MatMul(probs, "V", h, (h * dv, (h + 1) * dv), transpose_rhs=False,
                                      quantum=pv == "quantum"))
            g.add_edges_from([("Q", scores), ("K", scores), (scores, scaled), (scaled, masked),
                              (masked, probs), (probs, out), ("V", out), (out, "output")])
        g.add_node("output", op=Output(heads))
        graph = cls(g, {"Q": Q, "K": K, "V": V}, name)
        graph.verify()
        return graph

    # -- queries used by the lower levels
    def nodes_of(self, kind: type) -> list[tuple[str, Any]]:
        return [(n, d["op"]) for n, d in self.graph.nodes(data=True) if isinstance(d["op"], kind)]

    def chain(self, head: int) -> dict[str, Any]:
        """The ops of one head's chain, by role."""
        return {role: self.graph.nodes[f"h{head}.{role}"]["op"]
                for role in ("scores", "scaled", "masked", "probs", "out")}

    @property
    def heads(self) -> int:
        return self.graph.nodes["output"]["op"].heads

    def verify(self) -> None:
        g = self.graph
        if not nx.is_directed_acyclic_graph(g):
            raise CompileError("internal: the attention graph has a cycle; please report this")
        for node, data in g.nodes(data=True):
            op = data.get("op")
            if not isinstance(op, OPS):
                raise CompileError(f"internal: node {node!r} has no valid op; please report this")
            if isinstance(op, MatMul):
                preds = set(g.predecessors(node))
                if not {op.lhs, op.rhs} <= preds:
                    raise CompileError(f"internal: MatMul {node!r} is not wired to its operands")
        if g.out_degree("output") != 0:
            raise CompileError("internal: the Output op must be a sink")

    def describe(self) -> str:
        lines = [f"AttentionGraph {self.name} (L1)"]
        for node in nx.lexicographical_topological_sort(self.graph):
            preds = sorted(self.graph.predecessors(node))
            lines.append(f"  %{node} = {self.graph.nodes[node]['op']!r}" + (f"  <- {', '.join(preds)}" if preds else ""))
        return "\n".join(lines)


# ----------------------------------------------------------------------------- L2
@dataclass(frozen=True, eq=False)
class Kernel:
    """One quantum MatMul: ``scores = diag(lhs_norms) · C · diag(rhs_norms)`` on the listed pairs."""

    name: str
    head: int
    d: int  # the head's width before padding
    d_pad: int  # padded to a power of two
    lhs_units: np.ndarray  # (N, d_pad) unit rows (zero rows stay zero)
    rhs_units: np.ndarray  # (M, d_pad)
    lhs_norms: np.ndarray  # (N,)
    rhs_norms: np.ndarray  # (M,)
    pairs: np.ndarray  # (P, 2) int64: (i, j) pairs that need a circuit, row-major order
    visible: np.ndarray  # (N, M) bool: False where the mask hides the entry
    bias: np.ndarray | None = None  # (N, M) finite additive mask on the scaled scores (explicit masks)
    # 1: Q·Kᵀ; 2: P·V (``pv: quantum``), whose lhs rows — P's — are bound at run time: until then
    # lhs_units/lhs_norms hold a placeholder (uniform weights over the visible keys), see normalize
    stage: int = 1
    lhs_angles: np.ndarray | None = None  # set by `encode`: per-vector encoding parameters
    rhs_angles: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.visible.shape

    @property
    def settled_zero(self) -> int:
        """Visible entries settled classically because a vector is zero."""
        return int(self.visible.sum()) - len(self.pairs)

    def summary(self) -> str:
        n, m = self.shape
        enc = "" if self.lhs_angles is None else f", angles {self.lhs_angles.shape[1]}/vector"
        return (f"kernel {self.name}: head {self.head}, {n}x{m} scores, d={self.d} (padded {self.d_pad}), "
                f"{len(self.pairs)} pairs on circuits, {self.settled_zero} settled zero, "
                f"{int((~self.visible).sum())} masked{enc}")


@dataclass(frozen=True, eq=False)
class KernelPlan:
    """L2: the quantum MatMuls as unit-vector inner products plus classical norms."""

    graph: AttentionGraph
    kernels: tuple[Kernel, ...]
    encoding: str | None = None
    estimator: str | None = None

    level = "L2"

    def verify(self) -> None:
        for k in self.kernels:
            norms = np.linalg.norm(k.lhs_units, axis=1)
            if not np.all((np.abs(norms - 1) < 1e-9) | (k.lhs_norms == 0)):
                raise CompileError(f"internal: kernel {k.name} has non-unit query directions")
            norms = np.linalg.norm(k.rhs_units, axis=1)
            if not np.all((np.abs(norms - 1) < 1e-9) | (k.rhs_norms == 0)):
                raise CompileError(f"internal: kernel {k.name} has non-unit key directions")
            if k.d_pad & (k.d_pad - 1):
                raise CompileError(f"internal: kernel {k.name} is padded to {k.d_pad}, not a power of two")

    def describe(self) -> str:
        head = f"KernelPlan {self.graph.name} (L2): encoding={self.encoding}, estimator={self.estimator}"
        return "\n".join([head] + ["  " + k.summary() for k in self.kernels])


# ----------------------------------------------------------------------------- L3
@dataclass(frozen=True, eq=False)
class Decoding:
    """How a template's outcomes become an inner product, so a run needs no estimator class.

    The mean of ``outcome_values`` (f over the 2^bits outcomes) is the inner product for a
    signed estimator, and s = ((1 + c)/2)² for an unsigned one (``qac.decode.finish``).
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
    are the logical template's exact means of f on these rows (``qac.exact``), taken when a
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
        from qac.exact import cached_exact_means

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
    d_pad: int
    tree: str = "routed"  # the joint tree's shape (binary interference): "routed" or "star"
    decoding: Decoding | None = None  # set by `estimate`
    calibration: Calibration | None = None  # set by `estimate` (None when no kernel of this shape has pairs)

    @property
    def num_parameters(self) -> int:
        return self.circuit.num_parameters


@dataclass(frozen=True, eq=False)
class Binding:
    """The rows of parameter values that turn a template into one kernel's circuits."""

    kernel: str
    template: str
    values: np.ndarray  # (P, num_parameters) float64, one row per pair of kernel.pairs
    partner_values: np.ndarray | None = None  # (P, num_parameters): (â, −b̂) rows when the estimator is odd


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
            if b.values.shape != (len(kernel.pairs), t.num_parameters):
                raise CompileError(f"internal: bindings of {kernel.name} have shape {b.values.shape}, "
                                   f"expected {(len(kernel.pairs), t.num_parameters)}")
            if not np.all(np.isfinite(b.values)):
                raise CompileError(f"internal: bindings of {kernel.name} hold non-finite angles")
            if b.partner_values is not None and b.partner_values.shape != b.values.shape:
                raise InternalError(f"sign partners of {kernel.name} have shape {b.partner_values.shape}, "
                                    f"not the data rows' {b.values.shape}")
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
            lines.append(f"  bindings {b.kernel} -> {b.template}: {b.values.shape[0]} rows")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- L4
@dataclass(frozen=True, eq=False)
class IsaProgram:
    """L4: every template transpiled once for the target (layout, routing, basis), parametrised.

    Analysis results are typed fields (``qac/records.py``): ``resources`` per ISA template
    (the ``resources`` analysis, run after every pass that writes L4), ``packing`` per packed
    template (``pack``), ``layout`` (how ``layout`` transpiled) and ``cost`` (the ``cost`` pass).
    """

    module: CircuitModule
    isa: dict[str, QuantumCircuit]
    target: str
    layout: LayoutOptions | None = None
    resources: dict[str, TemplateResources] = field(default_factory=dict)
    packing: dict[str, Packing] | None = None  # unpacked template -> its copies; None: no `pack` pass ran
    cost: CostReport | None = None

    level = "L4"

    @property
    def packed_templates(self) -> set[str]:
        return {p.template for p in (self.packing or {}).values()}

    def template_of(self, kernel: str) -> str:
        return self.module.bindings[kernel].template

    def packing_of(self, template: str) -> Packing | None:
        """How ``template`` (an unpacked one) is packed, or ``None``: it runs one copy per circuit."""
        return (self.packing or {}).get(template)

    def copies(self, template: str) -> int:
        info = self.packing_of(template)
        return 1 if info is None else info.copies

    def kernel_table(self) -> list[dict]:
        """Per kernel: template, pairs, copies per circuit, circuits, qubits, two-qubit gates, depth,
        ESP, duration, physical qubits (of one copy; the manifest's ``placement`` has every copy's)."""
        rows = []
        for k in self.module.plan.kernels:
            name = self.template_of(k.name)
            copies, res = self.copies(name), self.resources[name]
            counts = {key: v for key, v in res.counts().items() if key != "operations"}
            rows.append({"kernel": k.name, "head": k.head, "template": name, "d": k.d, "d_pad": k.d_pad,
                         "pairs": int(len(k.pairs)), "copies": copies,
                         "circuits": int(-(-len(k.pairs) // copies)), "settled_zero": k.settled_zero,
                         "masked": int((~k.visible).sum()), **counts, **res.calibrated(),
                         "physical_qubits": list(res.physical_qubits)})
        return rows

    def verify(self) -> None:
        for name, circuit in self.isa.items():
            logical = self.module.templates[name].circuit
            if set(circuit.parameters) != set(logical.parameters):
                raise InternalError(f"transpiling template {name} changed its parameters")
        for name in self.resources:
            if name not in self.isa:
                raise InternalError(f"resources recorded for {name}, which is not an ISA template")
        for name, info in (self.packing or {}).items():
            if name not in self.isa or info.template not in self.isa:
                raise InternalError(f"packing of {name} names a template the program does not hold")

    def describe(self) -> str:
        lines = [f"IsaProgram for {self.target} (L4)"]
        for name, c in self.isa.items():
            two_q = sum(1 for inst in c.data if inst.operation.num_qubits == 2)
            line = f"  {name}: {dict(c.count_ops())}, two-qubit {two_q}, depth {c.depth()}"
            res = self.resources.get(name)
            if res is not None:
                duration = "-" if res.duration_ns is None else f"{res.duration_ns:g} ns"
                line += (f"; resources: {res.qubits} qubits on {list(res.physical_qubits)}, ESP {res.esp:.4f}, "
                         f"duration {duration}")
            lines.append(line)
        for name, info in sorted((self.packing or {}).items()):
            lines.append(f"  packing {name}: {info.copies} copies as {info.template}")
        if self.cost is not None:
            lines.append(f"  cost: {len(self.cost.templates)} template(s) at {self.cost.shots} shots"
                         + ("" if self.cost.auto is None else
                            f"; auto chose {self.cost.auto.choice.encoding}/{self.cost.auto.choice.estimator}"))
        return "\n".join(lines)
