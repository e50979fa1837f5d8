"""L2 ``KernelPlan``: each quantum MatMul as inner products of unit vectors times classical norms,
``A·Bᵀ = diag(|a|)·C·diag(|b|)``, ``C_ij = <â_i|b̂_j>``, with the pairs that need a circuit listed and
every other entry settled classically (zero vectors give exactly 0, masked entries are never computed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from qac.errors import CompileError
from qac.ir.graph import AttentionGraph

if TYPE_CHECKING:  # pragma: no cover

    pass


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

    def summary(self, encoding: str | None = None) -> str:
        n, m = self.shape
        enc = "" if self.lhs_angles is None else f", angles {self.lhs_angles.shape[1]}/vector"
        if not enc and encoding is not None:
            from qac.kernels.encodings import ENCODINGS

            loader = ENCODINGS[encoding]
            enc = f", angles {loader.num_parameters(loader.width(self.d))}/vector (bound with the rows)"
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
        """Unit directions (or zero rows of zero norm) and power-of-two padding; the kernels of one
        padded width are checked in one call (a model forward has hundreds of small ones)."""
        widths: dict[int, list[Kernel]] = {}
        for k in self.kernels:
            if k.d_pad & (k.d_pad - 1):
                raise CompileError(f"internal: kernel {k.name} is padded to {k.d_pad}, not a power of two")
            widths.setdefault(k.lhs_units.shape[1], []).append(k)
        for group in widths.values():
            for side, what in (("lhs", "query"), ("rhs", "key")):
                units = [getattr(k, f"{side}_units") for k in group]
                norms = np.linalg.norm(np.concatenate(units), axis=1)
                ok = (np.abs(norms - 1) < 1e-9) | (np.concatenate([getattr(k, f"{side}_norms") for k in group]) == 0)
                if not np.all(ok):
                    first = int(np.searchsorted(np.cumsum([len(u) for u in units]), np.flatnonzero(~ok)[0], "right"))
                    raise CompileError(f"internal: kernel {group[first].name} has non-unit {what} directions")

    def describe(self) -> str:
        head = f"KernelPlan {self.graph.name} (L2): encoding={self.encoding}, estimator={self.estimator}"
        return "\n".join([head] + ["  " + k.summary(self.encoding) for k in self.kernels])
