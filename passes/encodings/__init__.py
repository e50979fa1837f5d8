"""Amplitude encodings, one module per family; the ``encode`` pass and the ``ENCODINGS``
registry live in ``qac.passes.encode``.

- ``binary``: the open Möttönen Ry tree on log2 d qubits, and the register-width helpers.
- ``trees``: tree programs (Ry/CX trees that follow a coupling graph), the routed and star
  trees, and the light cone of a measured qubit.
- ``unary``: the RBS data loaders on d qubits.
- ``state_preparation``: Qiskit's ``StatePreparation``, the baseline.
"""
