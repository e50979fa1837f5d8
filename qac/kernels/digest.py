"""A digest of a circuit's structure: what two circuits share when they run the same rows alike.

Name, registers, global phase, and every instruction with its parameters (the template's
``Parameter`` names, not values bound later), qubits and clbits. The compiler's template cache
keys routed templates by it (``passes/layout.py``), and the batched simulator and the closed-form
proofs key their per-circuit work by it (``qac.simulator``, ``qac.execution.closed_form``): every
compile hands out its own copy of a routed template, and a model forward compiles once a layer,
so keying by object would lower, plan and prove the same circuit again on every forward.
"""

from __future__ import annotations

import hashlib

_KEYS: dict = {}  # id(circuit) -> (circuit, digest): the circuit kept alive, so its id stays its own
MEMO_SIZE = 256


def structure_key(circuit) -> str:
    """The sha256 of everything about ``circuit`` a transpile or a simulation can see, memoised per
    object (a cached logical template is keyed again by every compile that reuses it). A circuit
    changed after it was keyed keeps its old key: keyed circuits are templates, never changed."""
    hit = _KEYS.get(id(circuit))
    if hit is not None and hit[0] is circuit:
        return hit[1]
    key = _digest(circuit)
    _KEYS[id(circuit)] = (circuit, key)
    if len(_KEYS) > MEMO_SIZE:
        _KEYS.pop(next(iter(_KEYS)))
    return key


def _digest(circuit) -> str:
    qubits = {q: i for i, q in enumerate(circuit.qubits)}
    clbits = {c: i for i, c in enumerate(circuit.clbits)}
    text = [circuit.name, str(circuit.num_qubits), str(circuit.num_clbits), repr(circuit.global_phase),
            repr([(r.name, r.size) for r in circuit.qregs]), repr([(r.name, r.size) for r in circuit.cregs])]
    for inst in circuit.data:
        text.append(repr((type(inst.operation).__name__, inst.operation.name, [str(p) for p in inst.operation.params],
                          [qubits[q] for q in inst.qubits], [clbits[c] for c in inst.clbits])))
    return hashlib.sha256("\n".join(text).encode()).hexdigest()
