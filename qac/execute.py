"""Former home of execution, kept for names others import (bench/, tests/test_cost.py, docs).

Execution lives in ``qac/execution/`` (one idea per module); these are re-exports only.
"""

from __future__ import annotations

from qac.exact import exact_distribution
from qac.execution.engine import AER_OPTIONS, active_qubits, restricted_noise_model, run_pubs, sampler
from qac.execution.precision import grid_shots
from qac.execution.result import Result

__all__ = ["AER_OPTIONS", "Result", "active_qubits", "exact_distribution", "grid_shots", "restricted_noise_model", "run_pubs",
           "sampler"]
