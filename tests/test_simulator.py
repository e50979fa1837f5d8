"""The batched engine (qac.simulator) against Aer / exact statevectors, on the ISA circuits qac
compiles: every encoding × estimator, IBM and vendor targets, packed and unpacked, ideal and noisy."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import spec_mapping
from qac.targets import get as get_target
from scipy import stats

import qac
from qac.execution.aer_engine import active_qubits, restricted_noise_model
from qac.kernels.exact import exact_distribution
from qac.simulator import probabilities, sample_counts, supports

COMBOS = [("binary", "interference"), ("unary_parallel", "interference"), ("unary_diagonal", "interference"),
          ("unary_semi_diagonal", "interference"), ("binary", "swap"), ("unary_parallel", "swap"),
          ("unary_diagonal", "swap"), ("unary_semi_diagonal", "swap"), ("qiskit", "swap"),
          ("binary", "destructive_swap"), ("qiskit", "destructive_swap"), ("binary", "compute_uncompute"),
          ("unary_parallel", "compute_uncompute"), ("unary_diagonal", "compute_uncompute"),
          ("unary_semi_diagonal", "compute_uncompute"), ("qiskit", "compute_uncompute"), ("binary", "hadamard"),
          ("unary_parallel", "hadamard"), ("unary_diagonal", "hadamard"), ("unary_semi_diagonal", "hadamard")]
TARGETS = ["aer", "ibm_brisbane", "ibm_fez", "ionq_aria"]
_COMPILED: dict = {}


def test_combos_are_every_pair_the_cost_model_can_pick():
    from qac.kernels.encodings import ENCODINGS
    from qac.kernels.estimators import ESTIMATORS

    assert sorted(COMBOS) == sorted((e, s) for s in ESTIMATORS for e in ENCODINGS if e in ESTIMATORS[s].encodings)


def compiled(target, encoding, estimator, pack=None, d=4, n=2):
    key = (target, encoding, estimator, pack, d, n)
    if key not in _COMPILED:
        rng = np.random.default_rng(7)
        spec = spec_mapping(rng.standard_normal((n, d)), rng.standard_normal((n, d)), rng.standard_normal((n, 2)))
        passes = (f"normalize,encode{{method={encoding}}},estimate{{method={estimator}}},layout{{optimization_level=1}}"
                  + (f",pack{{copies={pack}}}" if pack else ""))
        _COMPILED[key] = qac.compile(spec, target=target, passes=passes)
    return _COMPILED[key]


def circuits_of(prog):
    """(circuit, values) to simulate: the PUBs, and for packed templates each copy's sub-circuit."""
    out = []
    for kernel, (circuit, values) in zip(prog.kernels, prog.pubs()):
        name = prog.template_of(kernel)
        copies = prog.copies(name)
        out.append((circuit, values))
        if copies > 1:
            width = values.shape[1] // copies
            for c in range(copies):
                out.append((prog.execution_circuit(name, c), values[:, c * width:(c + 1) * width]))
    return out


def aer_noisy(circuit, values, noise_model):
    """Aer's density-matrix probabilities of the 'meas' bits (save_probabilities, which ignores
    readout error), then each bit's readout confusion matrix from the same model."""
    from qiskit_aer import AerSimulator

    measured = {circuit.find_bit(i.clbits[0]).index: circuit.find_bit(i.qubits[0]).index
                for i in circuit.data if i.operation.name == "measure"}
    qubits = [measured[c] for c in range(len(measured))]
    # the model's errors on the active qubits only: bit-identical in Aer, and no 2 s model conversion a run
    simulator = AerSimulator(method="density_matrix", noise_model=restricted_noise_model(noise_model, active_qubits(circuit)))
    out = []
    for row in values:
        bound = circuit.assign_parameters(row).remove_final_measurements(inplace=False)
        bound.save_probabilities(qubits)
        p = np.asarray(simulator.run(bound, shots=1).result().data(0)["probabilities"]).reshape((2,) * len(qubits))
        for c, q in enumerate(qubits):
            error = noise_model._local_readout_errors.get((q,), noise_model._default_readout_error)
            if error is not None:
                axis = len(qubits) - 1 - c
                p = np.moveaxis(np.tensordot(p, np.asarray(error.probabilities), axes=([axis], [0])), -1, axis)
        out.append(p.reshape(-1))
    return np.array(out)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("encoding,estimator", COMBOS)
def test_ideal_probabilities_equal_exact_statevectors(target, encoding, estimator):
    for circuit, values in circuits_of(compiled(target, encoding, estimator)):
        assert supports(circuit, None) == (True, "")
        reference = np.array([exact_distribution(circuit.assign_parameters(row)) for row in values])
        np.testing.assert_allclose(probabilities(circuit, values), reference, rtol=0, atol=1e-10)


PACKED = [(t, e, s) for t in ("ibm_brisbane", "ibm_fez", "iqm_garnet")  # the all-to-all devices do not pack
          for e, s in (("binary", "interference"), ("unary_parallel", "swap"), ("qiskit", "destructive_swap"),
                       ("unary_diagonal", "compute_uncompute"), ("binary", "hadamard"))
          if t != "iqm_garnet" or s not in ("swap", "destructive_swap")]  # two copies of those do not fit Garnet


@pytest.mark.parametrize("target,encoding,estimator", PACKED)
def test_packed_circuits_whole_and_copy_by_copy(target, encoding, estimator):
    prog = compiled(target, encoding, estimator, pack=2)
    (kernel,) = prog.kernels
    name = prog.template_of(kernel)
    assert prog.copies(name) == 2
    (whole, values), = prog.pubs()
    p = probabilities(whole, values)
    if len(active_qubits(whole)) <= 12:  # a 2-copy unary swap spans 22 qubits: too big for a statevector reference
        reference = np.array([exact_distribution(whole.assign_parameters(row)) for row in values])
        np.testing.assert_allclose(p, reference, rtol=0, atol=1e-10)
    width = values.shape[1] // 2
    parts = []
    for c in range(2):
        circuit, rows = prog.execution_circuit(name, c), values[:, c * width:(c + 1) * width]
        parts.append(probabilities(circuit, rows))
        reference = np.array([exact_distribution(circuit.assign_parameters(row)) for row in rows])
        np.testing.assert_allclose(parts[-1], reference, rtol=0, atol=1e-10)
    bits = int(np.log2(parts[0].shape[1]))
    product = (parts[1][:, :, None] * parts[0][:, None, :]).reshape(len(values), -1)  # copy 1 holds the high bits
    np.testing.assert_allclose(p, product, rtol=0, atol=1e-12)
    assert p.shape[1] == 1 << (2 * bits)


@pytest.mark.parametrize("target", ["ibm_brisbane", "ibm_fez", "ionq_aria"])
@pytest.mark.parametrize("encoding,estimator", COMBOS)
def test_noisy_probabilities_equal_aer_density_matrix(target, encoding, estimator):
    # unary swap tests at d = 4 span 11 qubits (a 4^11 density matrix a row, minutes on Aer): d = 2 there
    prog = compiled(target, encoding, estimator, d=2 if (estimator == "swap" and encoding.startswith("unary")) else 4)
    noise_model = prog.target.noise_model()
    circuit, values = prog.pubs()[0]
    values = values[:2]
    assert supports(circuit, noise_model) == (True, "")
    np.testing.assert_allclose(probabilities(circuit, values, noise_model), aer_noisy(circuit, values, noise_model),
                               rtol=0, atol=1e-8)


@pytest.mark.parametrize("target", ["ibm_fez", "iqm_garnet"])
def test_noisy_packed_copies_equal_aer(target):
    prog = compiled(target, "binary", "interference", pack=2)
    noise_model = prog.target.noise_model()
    (kernel,) = prog.kernels
    name = prog.template_of(kernel)
    (whole, values), = prog.pubs()
    values = values[:2]
    np.testing.assert_allclose(probabilities(whole, values, noise_model), aer_noisy(whole, values, noise_model),
                               rtol=0, atol=1e-8)
    circuit = prog.execution_circuit(name, 1)
    part = values[:, values.shape[1] // 2:]
    np.testing.assert_allclose(probabilities(circuit, part, noise_model), aer_noisy(circuit, part, noise_model),
                               rtol=0, atol=1e-8)


def test_readout_error_matches_aer_samples():
    """Aer's save_probabilities ignores readout error, so check the confusion matrices against
    Aer's own sampled counts (which include them): chi-square over the outcomes of every row,
    with the target's readout errors and with large asymmetric ones that a missing or
    transposed confusion matrix could not hide."""
    from qiskit_aer.noise import ReadoutError

    from qac.execution.aer_engine import run_pubs

    prog = compiled("ibm_fez", "binary", "swap", n=3)
    circuit, values = prog.pubs()[0]
    model = prog.target.noise_model()
    loud = _without_readout(model)
    for (qubit,) in model._local_readout_errors:
        loud.add_readout_error(ReadoutError([[0.9, 0.1], [0.25, 0.75]]), [qubit])
    shots = 20_000
    for noise_model in (model, loud):
        p = probabilities(circuit, values, noise_model)
        counts = run_pubs([(circuit, values, shots)], seed=3, noise_model=noise_model)[0]
        statistic = ((counts - shots * p) ** 2 / (shots * p)).sum()
        dof = counts.shape[0] * (counts.shape[1] - 1)
        assert stats.chi2.sf(statistic, dof) > 1e-3
    no_readout = probabilities(circuit, values, _without_readout(model))
    statistic = ((counts - shots * no_readout) ** 2 / (shots * no_readout)).sum()
    assert stats.chi2.sf(statistic, dof) < 1e-9  # the loud counts are told apart from readout-free probabilities


def _without_readout(noise_model):
    from qiskit_aer.noise import NoiseModel

    out = NoiseModel(basis_gates=noise_model.basis_gates)
    for name, by_qubits in noise_model._local_quantum_errors.items():
        for where, error in by_qubits.items():
            out.add_quantum_error(error, name, where)
    return out


def test_corrupted_circuit_gives_different_probabilities():
    prog = compiled("ibm_fez", "binary", "interference")
    circuit, values = prog.pubs()[0]
    corrupted = circuit.copy()
    for k, inst in enumerate(corrupted.data):
        if inst.operation.name == "rz" and not getattr(inst.operation.params[0], "parameters", None):
            op = inst.operation.copy()
            op.params = [float(op.params[0]) + 0.3]
            corrupted.data[k] = inst.replace(operation=op)
            break
    else:
        pytest.fail("no fixed rz to corrupt")
    good, bad = probabilities(circuit, values), probabilities(corrupted, values)
    assert np.abs(good - bad).max() > 1e-3
    reference = np.array([exact_distribution(corrupted.assign_parameters(row)) for row in values])
    np.testing.assert_allclose(bad, reference, rtol=0, atol=1e-10)  # and it is the corrupted circuit's answer


def test_chunking_does_not_change_probabilities_or_counts():
    prog = compiled("ibm_fez", "binary", "swap", n=4)
    noise_model = prog.target.noise_model()
    circuit, values = prog.pubs()[0]
    for model in (None, noise_model):
        whole = probabilities(circuit, values, model)
        for chunk in (1, 3, 7):
            parts = probabilities(circuit, values, model, max_rows_per_chunk=chunk)
            assert np.array_equal(whole, parts)
            assert np.array_equal(sample_counts(whole, 8192, 11), sample_counts(parts, 8192, 11))


def test_counts_are_multinomial_draws_of_the_probabilities():
    prog = compiled("aer", "binary", "interference", n=6)
    circuit, values = prog.pubs()[0]
    p = probabilities(circuit, values)
    shots = np.arange(len(p)) * 10 + 500
    counts = sample_counts(p, shots, np.random.SeedSequence(5))
    assert counts.dtype == np.int64 and np.array_equal(counts.sum(axis=1), shots)
    expected = shots[:, None] * p
    mask = expected > 5
    statistic = ((counts - expected)[mask] ** 2 / expected[mask]).sum()
    dof = mask.sum() - len(p)
    assert stats.chi2.sf(statistic, dof) > 1e-3
    assert np.array_equal(counts, sample_counts(p, shots, np.random.SeedSequence(5)))
    assert np.array_equal(sample_counts(p, 100, (1, 2, 3)), sample_counts(p, 100, np.random.SeedSequence([1, 2, 3])))
    assert not np.array_equal(counts, sample_counts(p, shots, 6))


def test_rows_zero_and_parameterless_circuits():
    prog = compiled("aer", "binary", "interference")
    circuit, values = prog.pubs()[0]
    assert probabilities(circuit, values[:0]).shape == (0, 2)
    assert sample_counts(np.zeros((0, 2)), 10, 1).shape == (0, 2)
    bound = circuit.assign_parameters(values[0])
    np.testing.assert_allclose(probabilities(bound, np.zeros((3, 0))), np.tile(exact_distribution(bound), (3, 1)), atol=1e-12)


def test_gate_table_matches_qiskit_matrices():
    from qiskit.circuit import library as lib

    from qac.simulator.gates import PARAMETRIC

    gates = {"rz": (lib.RZGate, 1), "rx": (lib.RXGate, 1), "ry": (lib.RYGate, 1), "r": (lib.RGate, 2),
             "u": (lib.UGate, 3), "u3": (lib.U3Gate, 3), "p": (lib.PhaseGate, 1), "u1": (lib.U1Gate, 1),
             "u2": (lib.U2Gate, 2), "rxx": (lib.RXXGate, 1), "ryy": (lib.RYYGate, 1), "rzz": (lib.RZZGate, 1),
             "rzx": (lib.RZXGate, 1)}
    assert set(gates) == set(PARAMETRIC)
    angles = np.array([0.3, -1.7, 2.9])
    for name, (gate, arity) in gates.items():
        args = [angles + k for k in range(arity)]
        batch = PARAMETRIC[name](*args)
        for r in range(len(angles)):
            np.testing.assert_allclose(batch[r], gate(*[a[r] for a in args]).to_matrix(), atol=1e-14, err_msg=name)


def test_unsupported_circuits_say_why():
    from qiskit import ClassicalRegister, QuantumCircuit

    circuit = QuantumCircuit(2)
    circuit.add_register(ClassicalRegister(1, "meas"))
    circuit.h(0)
    circuit.measure(0, 0)
    circuit.x(0)
    ok, reason = supports(circuit, None)
    assert not ok and "after a measurement" in reason
    plain = QuantumCircuit(1, 1)
    ok, reason = supports(plain, None)
    assert not ok and "no 'meas' register" in reason
    with pytest.raises(ValueError, match="cannot simulate"):
        probabilities(circuit, np.zeros((1, 0)))
    model = get_target("ibm_brisbane").noise_model()
    delayed = QuantumCircuit(1)
    delayed.add_register(ClassicalRegister(1, "meas"))
    delayed.delay(100, 0)
    delayed.measure(0, 0)
    ok, reason = supports(delayed, model)
    assert not ok and "relaxation" in reason


def test_dense_and_local_plans_agree_and_plans_are_cached(monkeypatch):
    """The ideal engine multiplies each run of fixed gates into one dense matrix for small
    components; the local path (one gemm per fused block, as noisy runs use) must give the same
    probabilities, and a second call (cached plan) the same bits."""
    from qac.simulator import _program
    from qac.simulator import evolve as ev

    prog = compiled("ibm_fez", "binary", "interference", d=8, n=3)
    circuit, values = prog.pubs()[0]
    dense = probabilities(circuit, values)
    assert all(ev.plan(c, False).dense for c in _program(circuit, None).components)
    assert np.array_equal(dense, probabilities(circuit, values))
    local_circuit = circuit.copy()  # another structure digest (the name): a new program, planned afresh
    local_circuit.name = f"{circuit.name}_local"
    monkeypatch.setattr(ev, "DENSE_QUBITS", 0)
    local = probabilities(local_circuit, values)
    assert not any(ev.plan(c, False).dense for c in _program(local_circuit, None).components)
    np.testing.assert_allclose(local, dense, rtol=0, atol=1e-12)
    reference = np.array([exact_distribution(circuit.assign_parameters(row)) for row in values])
    np.testing.assert_allclose(local, reference, rtol=0, atol=1e-10)


def test_layering_moves_diagonals_only_past_gates_they_commute_with():
    from qiskit import ClassicalRegister, QuantumCircuit
    from qiskit.circuit import Parameter

    from qac.simulator import _program
    from qac.simulator import evolve as ev

    a, b, c = Parameter("a"), Parameter("b"), Parameter("c")
    circuit = QuantumCircuit(3)
    circuit.add_register(ClassicalRegister(3, "meas"))
    circuit.sx([0, 1, 2])
    circuit.rz(a, 0)
    circuit.cz(1, 2)
    circuit.sx(1)
    circuit.rz(b, 2)  # commutes with cz(1, 2) and sx(1): joins rz(a)'s layer
    circuit.rzz(c, 0, 2)
    circuit.sx([0, 2])
    circuit.rz(a + b, 1)  # after sx(1), which is in the first fixed run: joins too
    circuit.cz(0, 1)
    circuit.rz(b - a, 1)  # after cz(0, 1), which follows sx(0) of the second run: a layer of its own
    circuit.sx(1)
    circuit.measure([0, 1, 2], [0, 1, 2])
    values = np.random.default_rng(3).uniform(-3, 3, (5, 3))
    kinds = [item[0] for item in ev.plan(_program(circuit, None).components[0], False).items]
    assert kinds.count("diag") == 2
    reference = np.array([exact_distribution(circuit.assign_parameters(row)) for row in values])
    np.testing.assert_allclose(probabilities(circuit, values), reference, rtol=0, atol=1e-10)
    model = get_target("ibm_fez").noise_model()  # rzz carries no error there: a per-row phase when noisy too
    np.testing.assert_allclose(probabilities(circuit, values, model).sum(axis=1), 1, atol=1e-12)


@pytest.mark.parametrize("target,encoding,estimator", [("ibm_fez", "binary", "interference"),
                                                       ("ibm_brisbane", "binary", "swap"),
                                                       ("ibm_fez", "binary", "destructive_swap"),
                                                       ("ionq_aria", "binary", "interference")])
def test_pauli_path_equals_density_matrix_path(target, encoding, estimator):
    """The noisy engine runs in the Pauli-transfer basis on the measurement's light cone only;
    the full density-matrix batch (every coefficient, every gate's superoperator) must give the
    same probabilities — per-row gates with errors (IonQ's r), fixed ecr/cz blocks, six measured
    bits (destructive swap)."""
    from qac.simulator import _program, pauli
    from qac.simulator.evolve import evolve, outcome_probabilities

    prog = compiled(target, encoding, estimator, d=4, n=3)
    circuit, values = prog.pubs()[0]
    program = _program(circuit, prog.target.noise_model())
    for component in program.components:
        if component.clbits:
            full = outcome_probabilities(component, *evolve(component, values, True), True)
            np.testing.assert_allclose(pauli.probabilities(component, values, program.num_parameters), full,
                                       rtol=0, atol=1e-12)


def test_two_qubit_diagonal_and_loud_errors_match_aer(monkeypatch):
    """A per-row rzz (a two-qubit rotation in the Pauli basis) and per-row rz under a loud
    model with amplitude damping on every gate: the Pauli path against Aer's density matrix."""
    from qiskit import ClassicalRegister, QuantumCircuit
    from qiskit.circuit import Parameter
    from qiskit_aer.noise import (
        NoiseModel,
        ReadoutError,
        amplitude_damping_error,
        depolarizing_error,
    )

    from qac import simulator

    a, b = Parameter("a"), Parameter("b")
    circuit = QuantumCircuit(3)
    circuit.add_register(ClassicalRegister(2, "meas"))
    circuit.sx([0, 1, 2])
    circuit.rzz(a, 0, 2)
    circuit.cz(1, 2)
    circuit.rz(b, 1)
    circuit.sx([0, 1])
    circuit.rz(a - b, 0)
    circuit.cz(0, 1)
    circuit.sx(2)
    circuit.measure([2, 0], [0, 1])
    model = NoiseModel()
    model.add_all_qubit_quantum_error(amplitude_damping_error(0.05).compose(depolarizing_error(0.02, 1)), ["sx"])
    model.add_all_qubit_quantum_error(depolarizing_error(0.05, 2), ["cz", "rzz"])
    model.add_all_qubit_readout_error(ReadoutError([[0.9, 0.1], [0.2, 0.8]]))
    values = np.random.default_rng(4).uniform(-3, 3, (3, 2))
    reference = aer_noisy(circuit, values, model)
    np.testing.assert_allclose(probabilities(circuit, values, model), reference, rtol=0, atol=1e-10)
    # components over PAULI_QUBITS run in the full Pauli basis (pauli_wide), over WIDE_PAULI_QUBITS
    # the plain density-matrix batch: the same answer
    monkeypatch.setattr(simulator, "PAULI_QUBITS", 0)
    np.testing.assert_allclose(probabilities(circuit.copy(), values, model), reference, rtol=0, atol=1e-10)
    monkeypatch.setattr(simulator, "WIDE_PAULI_QUBITS", 0)
    np.testing.assert_allclose(probabilities(circuit.copy(), values, model), reference, rtol=0, atol=1e-10)


@pytest.mark.parametrize("target,encoding,estimator", [("ibm_fez", "binary", "interference"),
                                                       ("ibm_fez", "binary", "destructive_swap"),
                                                       ("ionq_aria", "binary", "interference")])
def test_full_pauli_path_equals_density_matrix_path_and_ignores_chunking(monkeypatch, target, encoding, estimator):
    """Components forced onto the full-Pauli path (every coefficient, in-place rz rotations,
    per-row r with errors on IonQ, six measured bits) equal the density-matrix batch, and a
    row's bits do not depend on its chunk."""
    from qac import simulator
    from qac.simulator import _program, pauli_wide
    from qac.simulator.evolve import evolve, outcome_probabilities

    prog = compiled(target, encoding, estimator, d=4, n=3)
    circuit, values = prog.pubs()[0]
    program = _program(circuit, prog.target.noise_model())
    for component in program.components:
        if component.clbits:
            full = outcome_probabilities(component, *evolve(component, values, True), True)
            wide = pauli_wide.probabilities(component, values, program.num_parameters)
            np.testing.assert_allclose(wide, full, rtol=0, atol=1e-12)
            ones = np.concatenate([pauli_wide.probabilities(component, values[r:r + 1], program.num_parameters)
                                   for r in range(len(values))])
            assert np.array_equal(ones, wide)
    monkeypatch.setattr(simulator, "PAULI_QUBITS", 0)
    model = prog.target.noise_model()
    whole = probabilities(circuit.copy(), values, model)
    assert np.array_equal(probabilities(circuit.copy(), values, model, max_rows_per_chunk=2), whole)


@pytest.mark.slow
def test_noisy_eight_qubit_template_equals_aer_density_matrix():
    """Binary interference at d = 128 on ibm_fez: 8 entangled qubits with the branch (over
    PAULI_QUBITS), run by ``pauli_wide`` (qubit-level light cone, rows batched), equals Aer's
    density matrix to 1e-8 on every row, and a row's bits do not depend on its chunk."""
    from qac import simulator

    prog = compiled("ibm_fez", "binary", "interference", d=128, n=2)
    noise_model = prog.target.noise_model()
    circuit, values = prog.pubs()[0]
    program = simulator._program(circuit, noise_model)
    assert max(len(c.qubits) for c in program.components) == 8 > simulator.PAULI_QUBITS
    assert supports(circuit, noise_model) == (True, "")
    whole = probabilities(circuit, values, noise_model)
    np.testing.assert_allclose(whole, aer_noisy(circuit, values, noise_model), rtol=0, atol=1e-8)
    for rows in (1, 3):
        assert np.array_equal(probabilities(circuit, values, noise_model, max_rows_per_chunk=rows), whole)


@pytest.mark.parametrize("front", [1, 2, 3, 4])
def test_qubit_light_cone_matches_aer_on_a_random_circuit(monkeypatch, front):
    """``pauli_wide`` on a random circuit under a loud non-unital model: a qubit outside the
    measurement's cone (its gates skipped), qubits traced out early, an sx and per-row rz after a
    measured qubit's last two-qubit gate, a measured qubit never entangled, per-row rz waiting for
    their qubit to reach the front, fronts narrower than a step — equal to Aer's density matrix
    to 1e-10 for every front size, and a row's bits independent of its chunk."""
    from qiskit import ClassicalRegister, QuantumCircuit
    from qiskit.circuit import Parameter
    from qiskit_aer.noise import (
        NoiseModel,
        ReadoutError,
        amplitude_damping_error,
        depolarizing_error,
    )

    from qac import simulator
    from qac.simulator import pauli_wide

    monkeypatch.setattr(simulator, "PAULI_QUBITS", 0)
    monkeypatch.setattr(pauli_wide, "FRONT", front)
    rng = np.random.default_rng(22)
    angles = [Parameter(f"t{i}") for i in range(6)]
    circuit = QuantumCircuit(7)
    circuit.add_register(ClassicalRegister(3, "meas"))
    circuit.sx(range(7))
    for layer in range(14):
        a, b = (int(x) for x in rng.choice(5, size=2, replace=False))  # qubits 0-4 entangle
        circuit.cz(a, b)
        circuit.rz(angles[layer % 6], a)
        circuit.sx(b)
        circuit.rz(angles[(layer + 2) % 6] * 0.5 + 0.1, int(rng.integers(5)))
    circuit.cz(1, 5)  # after 1's last step in the cone: 5 and its gates are outside it
    circuit.sx(5)
    circuit.rz(angles[2], 5)
    circuit.cz(3, 4)  # 3 is traced out after this
    circuit.rz(angles[1], 0)
    circuit.sx(0)
    circuit.rz(angles[3], 0)
    circuit.cz(1, 2)  # outside the cone: neither reaches a measured qubit afterwards
    circuit.sx(6)  # a component of its own, never entangled
    circuit.rz(angles[4], 6)
    circuit.sx(6)
    circuit.rz(angles[5], 4)
    circuit.measure([4, 0, 6], [0, 1, 2])
    model = NoiseModel()
    model.add_all_qubit_quantum_error(amplitude_damping_error(0.06).compose(depolarizing_error(0.03, 1)), ["sx"])
    model.add_all_qubit_quantum_error(depolarizing_error(0.04, 2).compose(
        amplitude_damping_error(0.05).tensor(amplitude_damping_error(0.02))), ["cz"])
    model.add_all_qubit_readout_error(ReadoutError([[0.93, 0.07], [0.15, 0.85]]))
    values = rng.uniform(-3, 3, (5, 6))
    program = simulator._program(circuit, model)
    widest = max(program.components, key=lambda c: len(c.qubits))
    assert len(widest.qubits) == 6 and sorted(len(c.qubits) for c in program.components) == [1, 6]
    items = pauli_wide.wide_plan(widest, program.num_parameters).items
    merged = {item[1] for item in items if item[0] == "merge"}
    assert merged == {0, 1, 2, 3, 4} and sum(item[0] == "trace" for item in items) == 3  # 1, 2, 3; 5 never in the cone
    whole = probabilities(circuit, values, model)
    np.testing.assert_allclose(whole, aer_noisy(circuit, values, model), rtol=0, atol=1e-10)
    assert np.array_equal(probabilities(circuit.copy(), values, model, max_rows_per_chunk=2), whole)


def test_error_term_superoperators_equal_qiskit():
    """The engine composes each error term's superoperator from its instructions' Kraus
    operators (faster than SuperOp a term): the same matrices as Qiskit's SuperOp."""
    from qiskit.quantum_info import SuperOp

    from qac.simulator.lowering import _circuit_superop

    for name in ("ibm_fez", "ionq_aria"):
        model = get_target(name).noise_model()
        errors = [e for by_qubits in model._local_quantum_errors.values() for e in list(by_qubits.values())[:2]]
        for error in errors + list(model._default_quantum_errors.values()):
            for term in error.circuits:
                np.testing.assert_allclose(_circuit_superop(term), SuperOp(term).data, rtol=0, atol=1e-15)


def test_the_lowering_cache_is_bounded_and_answers_the_same(monkeypatch):
    """Every compile makes new circuit objects: copies of one routed template share one lowered
    program (keyed by the structure digest); circuits of another structure get their own, and the
    cache keeps the most recent PROGRAM_CACHE."""
    import qac.simulator as simulator

    monkeypatch.setattr(simulator, "PROGRAM_CACHE", 3)
    monkeypatch.setattr(simulator, "_PROGRAMS", type(simulator._PROGRAMS)())
    prog = compiled("aer", "binary", "interference")
    (circuit, values), = circuits_of(prog)[:1]
    first = probabilities(circuit, values)
    copies = [circuit.copy() for _ in range(5)]
    answers = [probabilities(c, values) for c in copies]
    assert len(simulator._PROGRAMS) == 1  # five copies, one lowering
    renamed = []
    for k in range(5):
        other = circuit.copy()
        other.name = f"{circuit.name}_{k}"  # another structure digest
        renamed.append(other)
    answers += [probabilities(c, values) for c in renamed]
    assert len(simulator._PROGRAMS) == 3  # the oldest lowered programs were let go
    assert all(np.array_equal(a, first) for a in answers)
    assert np.array_equal(probabilities(circuit, values), first)  # lowered again after eviction: same bits
