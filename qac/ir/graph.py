"""L1 ``AttentionGraph``: a dataflow graph (networkx) of typed ops — Input, MatMul, Scale, Mask,
Softmax, Output — one chain per head. Q·Kᵀ and P·V are the same op (``MatMul``); the ``quantum``
flag says which ones the compiler lowers to circuits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np

from qac.errors import CompileError

if TYPE_CHECKING:  # pragma: no cover

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
        nodes = [(key, {"op": Input(key, tuple(array.shape))}) for key, array in (("Q", Q), ("K", K), ("V", V))]
        edges = []  # every head's chain added in one call each (a model forward has hundreds of heads)
        for h in range(heads):
            scores, scaled, masked, probs, out = (f"h{h}.{s}" for s in ("scores", "scaled", "masked", "probs", "out"))
            nodes += [(scores, {"op": MatMul("Q", "K", h, (h * d, (h + 1) * d), transpose_rhs=True, quantum=True)}),
                      (scaled, {"op": Scale(float(scale))}),
                      (masked, {"op": Mask("explicit", visible=seen[h].copy(),
                                           bias=None if bias is None else bias[h].copy())}),
                      (probs, {"op": Softmax()}),
                      (out, {"op": MatMul(probs, "V", h, (h * dv, (h + 1) * dv), transpose_rhs=False,
                                          quantum=pv == "quantum")})]
            edges += [("Q", scores), ("K", scores), (scores, scaled), (scaled, masked),
                      (masked, probs), (probs, out), ("V", out), (out, "output")]
        nodes.append(("output", {"op": Output(heads)}))
        g.add_nodes_from(nodes)
        g.add_edges_from(edges)
        graph = cls(g, {"Q": Q, "K": K, "V": V}, name)
        graph.verify()
        return graph

    # -- queries used by the lower levels
    def nodes_of(self, kind: type) -> list[tuple[str, Any]]:
        return [(n, d["op"]) for n, d in self.graph.nodes(data=True) if isinstance(d["op"], kind)]

    def chain(self, head: int) -> dict[str, Any]:
        """The ops of one head's chain, by role (read once per head: an L1 graph is not changed
        after it is built, and a model forward reads hundreds of chains several times)."""
        chains = self.__dict__.setdefault("_chains", {})
        if head not in chains:
            chains[head] = {role: self.graph.nodes[f"h{head}.{role}"]["op"]
                            for role in ("scores", "scaled", "masked", "probs", "out")}
        return dict(chains[head])

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
