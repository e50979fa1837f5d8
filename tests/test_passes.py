"""The encodings' and estimators' building blocks against exact statevectors, and the pipeline text."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from qac.passes import PASSES, parse
from qac.passes.normalize import padded_width, split_norms
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import Operator, Statevector

from qac.errors import CompileError, InternalError
from qac.ir.pipeline import format_pipeline
from qac.kernels import choices
from qac.kernels.binding import vectors_for
from qac.kernels.encodings import ENCODINGS
from qac.kernels.encodings.binary import (
    append_ry_tree,
    gray_angles,
    multiplexed_ry,
    open_tree_angles,
    tree_angles,
)
from qac.kernels.encodings.unary import unary_angles, unary_schedule
from qac.kernels.estimators import ESTIMATORS


def test_registries_match_the_choices_users_may_write():
    assert tuple(ENCODINGS) == choices.ENCODINGS
    assert tuple(ESTIMATORS) == choices.ESTIMATORS


@pytest.mark.parametrize("level", [1, 2, 3])
def test_multiplexed_ry_applies_the_right_angle_for_every_control_value(level):
    rng = np.random.default_rng(level)
    alpha = rng.uniform(-np.pi, np.pi, 1 << level)
    raw = np.concatenate([np.zeros((1, (1 << level) - 1)), alpha[None, :]], axis=1)
    theta = gray_angles(raw, level + 1)[0, (1 << level) - 1:]
    circuit = QuantumCircuit(level + 1)
    multiplexed_ry(circuit, theta, 0, list(range(1, level + 1)))
    unitary = Operator(circuit).data
    for x in range(1 << level):  # control value x on qubits 1..level, target qubit 0
        block = unitary[np.ix_([2 * x, 2 * x + 1], [2 * x, 2 * x + 1])]
        c, s = np.cos(alpha[x] / 2), np.sin(alpha[x] / 2)
        np.testing.assert_allclose(block, [[c, -s], [s, c]], atol=1e-12)


def random_unit(rng, width, zeros=0.3):
    v = rng.standard_normal(width) * (rng.random(width) >= zeros)  # some exact zeros
    if not v.any():
        v[0] = -1.0
    return v / np.linalg.norm(v)


@given(st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_ry_tree_prepares_any_real_unit_vector(n, seed):
    v = random_unit(np.random.default_rng(seed), 1 << n)
    params = [Parameter(f"p{i:03d}") for i in range((1 << n) - 1)]
    circuit = QuantumCircuit(n)
    append_ry_tree(circuit, list(range(n)), params)
    assert circuit.count_ops().get("cx", 0) == (1 << n) - 2  # Möttönen: 2^n - 2 CNOTs
    bound = circuit.assign_parameters(gray_angles(tree_angles(v[None, :]), n)[0])
    np.testing.assert_allclose(Statevector(bound).data.real, v, atol=1e-12)


@given(st.integers(1, 7), st.integers(0, 2**32 - 1))
def test_open_ry_tree_drops_n_minus_1_cnots_and_stays_exact(n, seed):
    """Without the closing CNOTs (all controlled by the top qubit) the bind-time relabelling
    (upper halves read backwards) still prepares the vector exactly."""
    v = random_unit(np.random.default_rng(seed), 1 << n)
    params = [Parameter(f"p{i:03d}") for i in range((1 << n) - 1)]
    circuit = QuantumCircuit(n)
    ENCODINGS["binary"].append(circuit, list(range(n)), params)
    assert circuit.count_ops().get("cx", 0) == (1 << n) - n - 1
    bound = circuit.assign_parameters(open_tree_angles(v[None, :])[0])
    np.testing.assert_allclose(Statevector(bound).data, v, atol=1e-12)


@pytest.mark.parametrize("encoding", ["unary_parallel", "unary_diagonal", "unary_semi_diagonal"])
@pytest.mark.parametrize("width", [2, 3, 5, 8])
def test_unary_loaders_prepare_any_real_vector_in_the_unary_basis(encoding, width):
    rng = np.random.default_rng(width)
    enc = ENCODINGS[encoding]
    for _ in range(3):
        v = random_unit(rng, width)
        params = [Parameter(f"p{i:03d}") for i in range(enc.num_parameters(width))]
        circuit = QuantumCircuit(width)
        enc.append(circuit, list(range(width)), params)
        assert circuit.count_ops().get("cz", 0) == 2 * (width - 1)  # d - 1 RBS, 2 two-qubit gates each
        state = Statevector(circuit.assign_parameters(enc.vector_parameters(v[None, :])[0])).data
        expected = np.zeros(1 << width)
        expected[[1 << lane for lane in range(width)]] = v
        np.testing.assert_allclose(state, expected, atol=1e-12)


@pytest.mark.parametrize("loader", ["diagonal", "semi_diagonal"])
def test_chain_loaders_only_couple_neighbours_on_a_line(loader):
    _, steps = unary_schedule(loader, 9)
    assert all(abs(source - dest) == 1 for source, dest, _, _ in steps)
    _, steps = unary_schedule("parallel", 8)
    assert [(s, t) for s, t, _, _ in steps] == [(0, 4), (0, 2), (4, 6), (0, 1), (2, 3), (4, 5), (6, 7)]


def test_qiskit_baseline_loader_prepares_a_rotated_copy_with_the_same_inner_products():
    rng = np.random.default_rng(4)
    enc = ENCODINGS["qiskit"]
    a, b = (vectors_for(random_unit(rng, 5)[None, :], 5, 8, False) for _ in range(2))
    params = [Parameter(f"p{i:03d}") for i in range(enc.num_parameters(8))]
    circuit = QuantumCircuit(3)
    enc.append(circuit, [0, 1, 2], params)
    states = [Statevector(circuit.assign_parameters(enc.vector_parameters(x)[0])).data for x in (a, b)]
    assert abs(abs(np.vdot(states[0], states[1])) - abs(float(a[0] @ b[0]))) < 1e-9


def test_unary_angles_put_signs_where_a_lane_splits_off():
    v = np.array([[0.0, -0.6, 0.0, 0.8]])
    assert unary_angles(v, "diagonal").shape == (1, 3)


@pytest.mark.parametrize("d,expected", [(1, 1), (2, 2), (3, 4), (5, 8), (16, 16), (17, 32)])
def test_padded_width(d, expected):
    assert padded_width(d) == expected


def test_split_norms_keeps_zero_rows_zero_and_units_exact():
    rows = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]])
    units, norms = split_norms(rows, 4)
    np.testing.assert_allclose(norms, [5.0, 0.0])
    np.testing.assert_allclose(units, [[0.6, 0.8, 0, 0], [0, 0, 0, 0]])


def test_pipeline_text_round_trips():
    text = "normalize,encode{method=binary},estimate{method=interference},layout{optimization_level=3}"
    passes = parse(text)
    assert [p.name for p in passes] == ["normalize", "encode", "estimate", "layout"]
    assert format_pipeline(passes) == text
    assert format_pipeline(parse(" normalize , encode , estimate , layout ")) == (
        "normalize,encode{method=binary},estimate{method=interference},layout{optimization_level=1}")
    assert set(PASSES) >= {"normalize", "encode", "estimate", "layout", "cost"}
    text = ("normalize,encode{method=unary_diagonal},estimate{method=compute_uncompute},"
            "layout{optimization_level=3,trials=4},cost{auto=estimator,shots=1000,precision=0.02}")
    assert format_pipeline(parse(text)) == text


@pytest.mark.parametrize("text,fragment", [
    ("normalise,encode", "unknown pass 'normalise'; did you mean 'normalize'?"),
    ("encode{methd=binary}", "has no option 'methd'; did you mean 'method'?"),
    ("encode{method=quantum}", "unknown encoding 'quantum'"),
    ("layout{optimization_level=x}", "layout.optimization_level expects int"),
    ("layout{optimization_level=7}", "optimization_level must be 0, 1, 2 or 3"),
    ("", "the pipeline text is empty"),
    ("normalize;encode", "cannot parse"),
    ("estimate{method=swapp}", "unknown estimator 'swapp'"),
    ("layout{trials=0}", "trials must be between 1 and 64"),
    ("cost{auto=everything}", "auto must be encoding, estimator or encoding+estimator"),
    ("estimate{method=interference,tree=ring}", "unknown tree 'ring'; choose one of auto, routed, star"),
])
def test_bad_pipeline_text_is_a_clear_error(text, fragment):
    with pytest.raises(CompileError, match=None) as info:
        parse(text)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------ routed trees (issue 3, item 5)
from qac.kernels.encodings.trees import (  # noqa: E402
    ROUTED_TREES,
    analyse_tree_program,
    append_tree_program,
    light_cone,
    routed_tree_program,
    star_tree_program,
    tree_program_angles,
)

FULL_COUNTS = {2: 1, 3: 5, 4: 14, 5: 37, 6: 79, 7: 176}  # CX of the whole program
CONE_COUNTS = {2: 1, 3: 4, 4: 11, 5: 28, 6: 62, 7: 131}  # CX in the top qubit's light cone


@pytest.mark.parametrize("n", range(1, 9))
def test_tree_programs_prepare_any_real_unit_vector_exactly(n):
    rng = np.random.default_rng(n)
    for program in {routed_tree_program(n), star_tree_program(n)}:
        params = [Parameter(f"p{i:03d}") for i in range((1 << n) - 1)]
        circuit = QuantumCircuit(n)
        append_tree_program(circuit, list(range(n)), params, program)
        for _ in range(4):
            v = random_unit(rng, 1 << n)
            bound = circuit.assign_parameters(tree_program_angles(program, v[None, :])[0])
            np.testing.assert_allclose(Statevector(bound).data, v, atol=1e-12)


def test_routed_trees_only_use_their_heavy_hex_shape_and_count_as_documented():
    counts = {n: routed_tree_program(n).two_qubit_gates for n in ROUTED_TREES}
    cones = {n: sum(op[0] == "cx" for op in light_cone(routed_tree_program(n), n - 1)[0]) for n in ROUTED_TREES}
    assert counts == FULL_COUNTS and cones == CONE_COUNTS  # docs/kernels.md, "Routed trees"
    for n, (edges, _, _) in ROUTED_TREES.items():
        assert routed_tree_program(n).edges() <= {tuple(sorted(e)) for e in edges}
        assert max(sum(q in e for e in edges) for q in range(n)) <= 3  # heavy-hex degree
    assert star_tree_program(5).two_qubit_gates == 26  # the open Möttönen tree: 2^n - n - 1


def _reduced(state: np.ndarray, n: int, keep: int) -> np.ndarray:
    """The 2×2 density matrix of qubit ``keep`` (little-endian) of an n-qubit pure state."""
    psi = np.moveaxis(state.reshape([2] * n), n - 1 - keep, 0).reshape(2, -1)
    return psi @ psi.conj().T


@pytest.mark.parametrize("n", range(2, 9))
def test_light_cone_keeps_the_measured_qubits_state_exactly(n):
    """Cut to the top qubit's light cone, a tree program leaves that qubit in the same reduced
    state as the full program, for random vectors; the cut binds a subset of the angles."""
    rng = np.random.default_rng(100 + n)
    program = routed_tree_program(n)
    ops, kept = light_cone(program, n - 1)
    assert sum(op[0] == "cx" for op in ops) < program.two_qubit_gates or n == 2  # the cut drops gates
    full = QuantumCircuit(n)
    append_tree_program(full, list(range(n)), [Parameter(f"p{i:03d}") for i in range((1 << n) - 1)], program)
    cut = QuantumCircuit(n)
    append_tree_program(cut, list(range(n)), [Parameter(f"p{i:03d}") for i in range(len(kept))], program, ops)
    for _ in range(3):
        angles = tree_program_angles(program, random_unit(rng, 1 << n)[None, :])[0]
        reference = _reduced(Statevector(full.assign_parameters(angles)).data, n, n - 1)
        reduced = _reduced(Statevector(cut.assign_parameters(angles[list(kept)])).data, n, n - 1)
        np.testing.assert_allclose(reduced, reference, atol=1e-12)


def test_a_program_that_breaks_the_level_structure_is_rejected():
    with pytest.raises(InternalError, match="direction"):
        analyse_tree_program(2, [("ry", 0, 0), ("ry", 0, 1)])


@pytest.mark.parametrize("target,tree", [("aer", "star"), ("ionq_aria", "star"), ("ibm_fez", "routed")])
def test_the_joint_tree_follows_the_target_and_is_recorded(target, tree):
    """``tree=auto``: the star tree (fewest CX) when every pair couples, the routed tree on a
    coupling graph; the choice is on the template and in the manifest, and a forced tree
    round-trips through the pipeline text and still computes the exact inner products."""
    import qac
    from tests.conftest import spec_mapping

    rng = np.random.default_rng(9)
    mapping = spec_mapping(rng.standard_normal((3, 16)), rng.standard_normal((2, 16)), rng.standard_normal((2, 2)))
    compiled = qac.compile(mapping, target)
    (template,) = compiled.manifest()["templates"]
    assert template["tree"] == tree
    other = "routed" if tree == "star" else "star"
    forced = qac.compile(mapping, target, passes=f"normalize,encode,estimate{{tree={other}}},layout")
    assert f"estimate{{method=interference,tree={other}}}" in forced.pipeline
    assert forced.manifest()["templates"][0]["tree"] == other
    _, cone, _ = ESTIMATORS["interference"].joint_program(ESTIMATORS["interference"].qubits(16), tree)
    assert template["two_qubit_gates"] == sum(op[0] == "cx" for op in cone)
    for run in (compiled, forced):
        assert np.abs(run.run(exact=True).error).max() < 1e-9
