"""Equivalence of every routed kernel with its logical template (``qac verify``).

A routed ISA template acts on the whole device; the logical template on log2 d + 1 qubits.
Qiskit's transpiler preserves the unitary up to two permutations (``TranspileLayout``): the
initial layout puts virtual qubit v on physical ``s[v]``, and routing leaves it on ``e[v]``.
So on the *active* physical qubits A (touched by a gate, or holding a logical qubit at the
start or the end, closed under the routing permutation) the routed circuit R_A must equal

    P_route · (L ⊗ I_ancillas)          (up to a global phase)

where L sits on the compact positions of ``s[0..n-1]`` and P_route moves position(s[v]) to
position(e[v]) for every virtual qubit v, ancillas included. We build both sides as plain
circuits on |A| qubits (P_route as SWAPs), strip the final measurements and check separately
that the routed circuit measures e[q] into the clbit the logical one measures q into.

Methods (one report line each):

- ``qcec-generic×k``: the *template* with its symbolic parameters, instantiated at k seeded
  generic points and checked by mqt.qcec's decision-diagram checkers (ZX checker off). Both
  sides are analytic in the parameters, so a difference that vanishes at a generic point
  vanishes everywhere except on a measure-zero set. mqt.qcec 3.11 proves symbolic circuits
  only with the ZX checker (``method='auto'`` forces it on in ``check_parameterized``;
  every other method raises "does not support symbolic circuits"), so with ZX off this
  instantiation scheme is what qcec can do.
- ``qcec-bound×k``: k rows of the kernel's bindings table (first, last, seeded others),
  bound into both sides and checked by qcec (ZX off).
- ``statevector×k``: the same rows, exact statevectors from |0…0⟩ compared with numpy
  (fidelity 1 within 1e-9), when A has at most ``STATEVECTOR_MAX_QUBITS`` qubits.

Only ``equivalent`` and ``equivalent_up_to_global_phase`` pass; ``no_information``,
``probably_equivalent`` and every other qcec verdict fail (a timeout is no proof).

Modules: ``report`` (checks and reports), ``pair`` (the compact pair), ``checkers`` (qcec,
statevectors, ``verify_program``), ``qasm`` (the emitted files), ``directory`` (``qac
compile -o`` directories). Every name is importable from ``qac.verify``.
"""

from __future__ import annotations

from qac.verify.checkers import (
                                 DEFAULT_GENERIC,
                                 DEFAULT_ROWS,
                                 DEFAULT_TIMEOUT,
                                 STATEVECTOR_MAX_QUBITS,
                                 verify_compiled,
                                 verify_program,
)
from qac.verify.directory import load_directory, verify_directory
from qac.verify.pair import Pair, compact_pair, physical_pair
from qac.verify.qasm import same_gates, verify_qasm_files
from qac.verify.report import PASSING, Check, Report, VerifyInputError, print_report

__all__ = ["DEFAULT_GENERIC", "DEFAULT_ROWS", "DEFAULT_TIMEOUT", "PASSING", "STATEVECTOR_MAX_QUBITS", "Check", "Pair",
           "Report", "VerifyInputError", "compact_pair", "load_directory", "physical_pair", "print_report",
           "same_gates", "verify_compiled", "verify_directory", "verify_program", "verify_qasm_files"]
