"""The names users may write for encodings, estimators and masks.

A light module (no Qiskit import) so the spec loader and the CLI can validate choices
instantly. The pass modules hold the real registries and a test checks they agree.
"""

from __future__ import annotations

ENCODINGS: tuple[str, ...] = ("binary", "unary_parallel", "unary_diagonal", "unary_semi_diagonal", "qiskit")
ESTIMATORS: tuple[str, ...] = ("interference", "swap", "destructive_swap", "compute_uncompute", "hadamard")
MASKS: tuple[str, ...] = ("none", "causal")
OPTIMIZATION_LEVELS: tuple[int, ...] = (0, 1, 2, 3)
PV: tuple[str, ...] = ("classical", "quantum")  # where the second MatMul O = P·V runs (issue 14)
