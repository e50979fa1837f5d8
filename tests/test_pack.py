"""Multi-programming: many kernel copies per device circuit, same results in distribution."""

from __future__ import annotations

import numpy as np
import pytest

import qac
from qac.errors import CompileError
from qac.execution.aer_engine import run_pubs
from qac.kernels.decode import estimate_from_counts
from tests.conftest import spec_mapping


@pytest.fixture(scope="module")
def d4_spec():
    rng = np.random.default_rng(3)
    Q, K, V = rng.standard_normal((8, 4)), rng.standard_normal((8, 4)), rng.standard_normal((8, 4))
    return spec_mapping(Q, K, V, shots=4096)


@pytest.fixture(scope="module")
def packed(d4_spec):
    return qac.compile(d4_spec, "ibm_brisbane", pack="auto")


def test_brisbane_d4_packs_ten_or_more_pairs_per_circuit(packed):
    (row,) = packed.resources()
    assert row["copies"] >= 10 and row["circuits"] == -(-row["pairs"] // row["copies"])
    (circuit, values), = packed.pubs()
    assert values.shape == (row["circuits"], row["copies"] * packed.program.module.templates[row["template"]].num_parameters)
    assert len(packed.circuits()) == row["circuits"] < row["pairs"] / 10 + 1
    placement = packed.manifest()["placement"][row["template"]]
    qubits = [q for region in placement["regions"] for q in region["physical_qubits"]]
    assert len(qubits) == len(set(qubits)), "copies must sit on disjoint qubits"
    assert placement["copies"] == row["copies"]
    assert "pack{copies=auto" in packed.pipeline


def test_packed_results_agree_with_unpacked(d4_spec, packed):
    unpacked = qac.compile(d4_spec, "ibm_brisbane")
    # simulated: an ideal auto run draws both from the closed form (tests/test_closed_form.py)
    a, b = unpacked.run(seed=1, engine="batched"), packed.run(seed=2, engine="batched")
    z = np.abs(a.output - b.output) / np.sqrt(a.stderr**2 + b.stderr**2)
    assert np.mean(z <= 2) >= 0.9
    assert b.circuits_run < a.circuits_run / 10 and b.pairs_per_circuit >= 10


def test_copy_by_copy_simulation_matches_the_whole_packed_circuit():
    """The simulator runs a packed circuit copy by copy; the whole circuit gives the same statistics."""
    rng = np.random.default_rng(0)
    Q, K = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    compiled = qac.compile(spec_mapping(Q, K, rng.standard_normal((3, 2)), shots=4000), "ibm_brisbane", pack=3)
    kernel = compiled.kernels[0]
    name = compiled.template_of(kernel)
    info = compiled.packing(name)
    assert info["copies"] == 3
    noise = compiled.target.noise_model()
    (circuit, values), = compiled.pubs()
    whole = run_pubs([(circuit, values, 4000)], seed=5, noise_model=noise)[0]  # (rows, 2^3)
    f = compiled.outcome_values(name)
    p = values.shape[1] // 3
    for copy in range(3):
        marginal = np.stack([whole[:, [o for o in range(8) if (o >> copy) & 1 == bit]].sum(axis=1)
                             for bit in (0, 1)], axis=1)
        split = run_pubs([(compiled.execution_circuit(name, copy), values[:, copy * p:(copy + 1) * p], 4000)],
                         seed=6, noise_model=noise)[0]
        m1, s1 = estimate_from_counts(marginal, f)
        m2, s2 = estimate_from_counts(split, f)
        assert np.all(np.abs(m1 - m2) <= 4 * np.sqrt(s1**2 + s2**2))


def test_packed_qasm_is_deterministic_and_parameters_unique(d4_spec, packed):
    again = qac.compile(d4_spec, "ibm_brisbane", pack="auto")
    name = packed.packing(packed.template_of(packed.kernels[0]))["template"]
    assert packed.qasm(name) == again.qasm(name)
    params = [p.name for p in packed.program.isa[name].parameters]
    assert len(params) == len(set(params)) and params[0].startswith("k00_")


def test_pack_needs_a_device():
    with pytest.raises(CompileError, match="pack"):
        qac.compile({"Q": [[1.0, 0.0]], "K": [[0.0, 1.0]], "V": [[1.0]]}, "aer", pack="auto")


@pytest.mark.slow
def test_packed_noisy_mitigated_run(d4_spec, packed):
    result = packed.run(noise=True, seed=3)
    assert result.mitigated and len(result.mitigation) == packed.copies(packed.template_of(packed.kernels[0]))
    assert 0.85 <= result.coverage() <= 1.0


def test_an_explicit_copy_count_is_kept_or_refused_with_the_count_that_works(d4_spec):
    """Before: pack{copies=1000} silently became the copies that fit while the manifest's
    pipeline said 1000. Now the count is what ran, or the compile stops naming what fits."""
    with pytest.raises(CompileError, match=r"^pack: copies=1000 but template binary_interference_d4 has 64 pairs "
                                           r"to run; use pack\{copies=64\} or pack\{copies=auto\}$"):
        qac.compile(d4_spec, "ibm_brisbane", pack=1000)
    with pytest.raises(CompileError, match=r"^pack: 64 copies of binary_interference_d4 do not fit on 'ibm_brisbane': "
                                           r"qac found room for (\d+) .*; use pack\{copies=\1\} or pack\{copies=auto\}$"):
        qac.compile(d4_spec, "ibm_brisbane", pack=64)
    two = qac.compile(d4_spec, "ibm_brisbane", pack=2)
    assert two.resources()[0]["copies"] == 2 and "pack{copies=2," in two.manifest()["pipeline"]
