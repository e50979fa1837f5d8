"""Issue 22's peers for the engine section, all on the same score matrix in the same run.

Each function returns seconds (best of ``repeats`` for the cheap ones) for: a bound N×M, d
kernel → per-pair outcome probabilities → 8192-shot binomial/multinomial draws.

- ``qac_layer``: qac's run layer from the compiled (bound) program to per-pair inner-product
  estimates (``qac.execution.run.sample``: plan, engine or closed form, decoding); compile,
  reconstruction and error bars excluded. ``auto`` draws ideal rows from the closed form and
  checks 32 against the simulator; ``batched`` simulates every circuit.
- ``pennylane_analytic``: PennyLane ``default.qubit`` (broadcast) or ``lightning.qubit`` analytic
  ``probs`` of the logical interference circuit + numpy binomial (statistically the same as
  shots); ``bench.engine.pennylane_time`` is its per-shot sampling.
- ``aer_probabilities``: Aer ``save_probabilities`` on qac's ISA circuit (measurements removed),
  all rows bound at run time in one job, + numpy binomial; ``density_matrix`` with a noise model.
- ``aer_estimator``: Aer ``EstimatorV2``, one PUB (the ISA circuit, Z on the branch qubit, every
  row's parameters), exact expectation values → P(0) = (1 + ⟨Z⟩)/2 → binomial.
- ``cold_start``: a fresh process compiles a layer, then times its first and second noisy run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np


def best(f, repeats: int = 3):
    out, seconds = None, float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = f()
        seconds = min(seconds, time.perf_counter() - start)
    return seconds, out


def qac_layer(prog, engine: str, shots: int, noise_model=None, repeats: int = 3) -> tuple[float, float]:
    """(steady seconds, first-call seconds) of ``sample`` on every pair of ``prog``."""
    from qac.execution.engines import ENGINES
    from qac.execution.run import sample

    def go():
        return sample(prog.program, prog.execution_circuits, shots=shots, noise_model=noise_model, seed=1,
                      mitigation=False, precision=None, pilot_shots=None, engine=ENGINES[engine])
    start = time.perf_counter()
    go()
    first = time.perf_counter() - start
    return best(go, repeats)[0], first


def pennylane_analytic(n: int, d: int, shots: int, device: str = "default.qubit", repeats: int = 3) -> float | None:
    """The same broadcast circuit as ``bench.engine.pennylane_time``, analytic P(0) + numpy binomial."""
    from bench.engine import pennylane_p0

    p0 = pennylane_p0(n, d, device=device)
    if p0 is None:
        return None
    draws = np.random.default_rng(1)
    return best(lambda: (2 * draws.binomial(shots, np.clip(p0(), 0, 1)) / shots - 1).reshape(n, n), repeats)[0]


def _measured(circuit):
    """(circuit without its final measurements, measured qubit indices in clbit order)."""
    measured = {}
    bare = circuit.copy_empty_like()
    for inst in circuit.data:
        if inst.operation.name == "measure":
            measured[circuit.find_bit(inst.clbits[0]).index] = circuit.find_bit(inst.qubits[0]).index
        elif inst.operation.name != "barrier":
            bare.append(inst)
    return bare, [measured[c] for c in sorted(measured)]


def aer_probabilities(prog, shots: int, noise_model=None, rows: int | None = None) -> tuple[float, int, int]:
    """(seconds scaled to all rows, rows run, rows in all): Aer probabilities + numpy binomial."""
    from qiskit_aer import AerSimulator

    from qac.execution.aer_engine import active_qubits, restricted_noise_model

    total = sum(len(v) for _, v in prog.pubs())
    ran, seconds = 0, 0.0
    draws = np.random.default_rng(1)
    for circuit, values in prog.pubs():
        values = values[:rows] if rows else values
        bare, measured = _measured(circuit)
        bare.save_probabilities(measured)
        options = {"method": "density_matrix" if noise_model is not None else "statevector",
                   "runtime_parameter_bind_enable": True}
        if noise_model is not None:
            options["noise_model"] = restricted_noise_model(noise_model, active_qubits(circuit))
        sim = AerSimulator(**options)
        start = time.perf_counter()
        result = sim.run(bare, shots=1, parameter_binds=[{p: values[:, i] for i, p in enumerate(bare.parameters)}]).result()
        probs = np.array([result.data(i)["probabilities"] for i in range(len(values))])
        draws.multinomial(shots, probs / probs.sum(axis=1, keepdims=True))
        seconds += time.perf_counter() - start
        ran += len(values)
    return seconds * total / ran, ran, total


def aer_estimator(prog, shots: int, rows: int | None = None) -> tuple[float, int, int] | None:
    """(seconds scaled to all rows, rows run, rows in all): Aer EstimatorV2, one PUB a template."""
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_aer.primitives import EstimatorV2

    total = sum(len(v) for _, v in prog.pubs())
    ran, seconds = 0, 0.0
    draws = np.random.default_rng(1)
    estimator = EstimatorV2()
    for circuit, values in prog.pubs():
        values = values[:rows] if rows else values
        bare, measured = _measured(circuit)
        if len(measured) != 1:
            return None  # one measured bit: the interference templates the bench compiles
        observable = SparsePauliOp.from_sparse_list([("Z", [measured[0]], 1.0)], num_qubits=bare.num_qubits)
        start = time.perf_counter()
        z = estimator.run([(bare, observable, values)]).result()[0].data.evs
        draws.binomial(shots, np.clip((1 + np.asarray(z)) / 2, 0, 1))
        seconds += time.perf_counter() - start
        ran += len(values)
    return seconds * total / ran, ran, total


COLD = """
import json, sys, time
sys.path.insert(0, {root!r})
from bench.engine import compile_for
layer = compile_for({tokens}, 32, "ibm_fez", heads={heads})
times = []
for _ in range(2):
    start = time.perf_counter()
    layer.run(shots={shots}, noise=True, seed=1)
    times.append(time.perf_counter() - start)
print(json.dumps(times))
"""


def cold_start(tokens: int, heads: int, shots: int) -> tuple[float, float]:
    """(first, second) seconds of a mitigated noisy ``compiled.run`` in a fresh process (compile
    excluded; the noise model comes from the disk cache when an earlier process built it)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = COLD.format(root=root, tokens=tokens, heads=heads, shots=shots)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    first, second = json.loads(out.stdout.strip().splitlines()[-1])
    return first, second
