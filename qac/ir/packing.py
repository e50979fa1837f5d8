"""Packing queries on a compiled program: copies per template, rows per packed circuit.

``pack`` (``passes/pack.py``) places k copies of a template on one device; pair l of a kernel
runs on copy l mod k, so P rows of p parameters become ⌈P/k⌉ rows of k·p. What the pass
recorded is read only through ``packing_of`` (one accessor, so the record's type can change).
"""

from __future__ import annotations

import numpy as np


def packing_of(program, template: str):
    """The pack pass's typed record for ``template`` (``qac.ir.records.Packing``), or None."""
    return program.packing_of(template)


def copies(program, template: str) -> int:
    return program.copies(template)


def template_of(program, kernel) -> str:
    return program.module.bindings[kernel.name].template


def pairs_per_circuit(program) -> float:
    kernels = program.module.plan.kernels
    pairs = sum(len(k.pairs) for k in kernels)
    circuits = sum(-(-len(k.pairs) // copies(program, template_of(program, k))) for k in kernels)
    return pairs / circuits if circuits else 1.0


def packed_values(program, kernel) -> np.ndarray:
    """Rows (P, p) → (⌈P/k⌉, k·p): pair l on copy l mod k; the last row padded with zeros."""
    values = program.module.bindings[kernel.name].values
    k = copies(program, template_of(program, kernel))
    if k == 1:
        return values
    rows = -(-len(values) // k)
    padded = np.zeros((rows * k, values.shape[1]))
    padded[:len(values)] = values
    return padded.reshape(rows, k * values.shape[1])


def pub_circuit(program, template: str):
    """The ISA circuit a sampler runs a template's rows on (the packed one when packed)."""
    info = packing_of(program, template)
    return program.isa[template if info is None else info.template]
