"""The names users may write for encodings, estimators and masks.

A light module (no Qiskit import) so the spec loader and the CLI can validate choices
instantly. The pass modules hold the real registries and a test checks they agree.
"""

from __future__ import annotations

ENCODINGS: tuple[str, ...] = ("binary", "unary_parallel", "unary_diagonal", "unary_semi_diagonal", "qiskit")
#: estimator name → signed: signed estimators load the directions (the mean of f is ⟨â|b̂⟩); unsigned
#: ones load (x, 1)/√2 with an offset lane and recover the sign from it. The estimator classes
#: (``qac.kernels.estimators``) and the binder read this one table.
SIGNED: dict[str, bool] = {"interference": True, "swap": False, "destructive_swap": False,
                           "compute_uncompute": False, "hadamard": True}
ESTIMATORS: tuple[str, ...] = tuple(SIGNED)
MASKS: tuple[str, ...] = ("none", "causal")
OPTIMIZATION_LEVELS: tuple[int, ...] = (0, 1, 2, 3)
PV: tuple[str, ...] = ("classical", "quantum")  # where the second MatMul O = P·V runs (issue 14)
