"""Amplitude encodings, one module per family; the ``encode`` pass and the ``ENCODINGS``
registry: ``ENCODINGS`` below (the ``encode`` pass is ``qac.passes.encode``).

- ``binary``: the open Möttönen Ry tree on log2 d qubits, and the register-width helpers.
- ``trees``: tree programs (Ry/CX trees that follow a coupling graph), the routed and star
  trees, and the light cone of a measured qubit.
- ``unary``: the RBS data loaders on d qubits.
- ``state_preparation``: Qiskit's ``StatePreparation``, the baseline.
"""

from qac.kernels.encodings.binary import BinaryEncoding
from qac.kernels.encodings.state_preparation import QiskitEncoding
from qac.kernels.encodings.unary import UnaryEncoding

#: the registry of loaders (level-neutral: the ``encode`` pass and the run-time binder share it)
ENCODINGS = {e.name: e for e in (BinaryEncoding(), UnaryEncoding("parallel"), UnaryEncoding("diagonal"),
                                 UnaryEncoding("semi_diagonal"), QiskitEncoding())}
