"""A build is a complete artefact: `qac.load(DIR)` runs exactly as the compiled program, `qac run DIR`
equals `qac run SPEC`, and counts sampled outside qac from the build's circuits decode to the same output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import qac
from qac.artefacts import emit
from qac.cli.main import main
from qac.errors import ExecutionError, OutputError
from tests.conftest import spec_mapping

ARRAYS = ("output", "stderr", "exact", "scores", "scores_stderr", "raw_output", "raw_stderr", "raw_scores",
          "raw_scores_stderr")
OLD_FILES = ("manifest.json", "program.qpy", "logical.qpy", "bindings.npz")


def small(seed: int = 3, **options) -> dict:
    rng = np.random.default_rng(seed)
    return spec_mapping(rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 2)),
                        mask="causal", shots=300, **options)


def assert_same_arrays(a, b):
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.tobytes() == y.tobytes(), name
    for kernel, (mean, sem) in a.inner_products.items():
        other_mean, other_sem = b.inner_products[kernel]
        assert mean.tobytes() == other_mean.tobytes() and sem.tobytes() == other_sem.tobytes(), kernel


def test_compile_then_run_dir_equals_run_spec_byte_for_byte(tmp_path, example_spec):
    """The acceptance case through the CLI: result.npz and run.json are the same bytes."""
    runner = CliRunner()
    for args in (["run", str(example_spec), "--shots", "400", "-o", str(tmp_path / "spec_run")],
                 ["compile", str(example_spec), "-o", str(tmp_path / "build")],
                 ["run", str(tmp_path / "build"), "--shots", "400", "-o", str(tmp_path / "dir_run")]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
    for name in ("result.npz", "run.json", *OLD_FILES, "program.json", "program.npz"):
        assert (tmp_path / "spec_run" / name).read_bytes() == (tmp_path / "dir_run" / name).read_bytes(), name


@pytest.mark.parametrize("target, options, run", [
    ("ibm_fez", {}, {"noise": True}),  # noisy, mitigated: calibration rows and sign partners from the bundle
    ("ibm_fez", {"pack": "auto"}, {"noise": True}),  # packed: copies, regions and packed PUBs
    ("aer", {}, {"precision": 0.05}),  # a pilot and a second stage
    ("aer", {}, {"exact": True}),
])
def test_a_loaded_program_runs_byte_identically(tmp_path, target, options, run):
    compiled = qac.compile(small(), target, **options)
    loaded = qac.load(compiled.save(tmp_path / "build"))
    assert_same_arrays(compiled.run(**run), loaded.run(**run))
    assert loaded.resources() == compiled.resources() and loaded.pipeline == compiled.pipeline
    assert [loaded.packing(t) for t in loaded.program.isa] == [compiled.packing(t) for t in compiled.program.isa]


@pytest.mark.parametrize("target, spec_options, options", [("ibm_fez", {}, {"pack": "auto"}),
                                                          ("aer", {"compile": {"estimator": "auto"}}, {})])
def test_every_file_a_loaded_program_would_write_is_the_compiled_ones(tmp_path, target, spec_options, options):
    """Rebuilding the manifest, QASM, QPY, bindings and program records from the loaded objects
    gives the same bytes: nothing the compile recorded (cost ranking, packing, resources) is lost."""
    compiled = qac.compile(small(**spec_options), target, **options)
    loaded = qac.load(compiled.save(tmp_path / "build"))
    written, rebuilt = emit.artefacts(compiled), emit.artefacts(loaded, stored=False)
    assert sorted(written) == sorted(rebuilt)
    for name in written:
        if name != "timings.json":
            assert written[name] == rebuilt[name], name
    assert emit.artefacts(loaded) == {n: (tmp_path / "build" / n).read_bytes() for n in written}


def test_a_build_adds_files_and_leaves_the_old_ones_as_they_were(tmp_path, example_spec):
    out = qac.compile(example_spec).save(tmp_path / "build")
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["bindings.npz", "kernels/binary_interference_d8.qasm", "logical.qpy", "manifest.json",
                     "program.json", "program.npz", "program.qpy", "timings.json"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert "program.json" not in json.dumps(manifest)  # the manifest is the one qac always wrote
    document = json.loads((out / "program.json").read_text())
    spec = qac.load_spec(example_spec)
    assert document["kind"] == "program" and document["run_defaults"] == {
        "name": spec.name, "seed": spec.seed, "shots": spec.shots, "precision": spec.precision}
    with np.load(out / "program.npz", allow_pickle=False) as arrays:
        assert {"graph.Q", "graph.K", "graph.V", "kernel.h0_scores.lhs_norms", "kernel.h0_scores.pairs",
                "kernel.h0_scores.visible", "template.binary_interference_d8.calibration.values",
                "binding.h0_scores.partner_values"} <= set(arrays.files)


def _outside_pubs(build):
    """PUBs built without qac: program.qpy's circuits and bindings.npz's rows, as the manifest pairs them."""
    from qiskit import qpy

    manifest = json.loads((build / "manifest.json").read_text())
    with open(build / "program.qpy", "rb") as handle:
        circuits = dict(zip(sorted(t["name"] for t in manifest["templates"]), qpy.load(handle)))
    with np.load(build / "bindings.npz", allow_pickle=False) as bindings:
        return [(circuits[k["template"]], bindings[f"{k['kernel']}.values"]) for k in manifest["kernels"]]


@pytest.mark.parametrize("target, noise", [("aer", False), ("ibm_fez", True)])
def test_counts_sampled_outside_qac_decode_to_the_run_output(tmp_path, target, noise):
    from qiskit_aer.primitives import SamplerV2

    build = qac.compile(small(), target).save(tmp_path / "build")
    loaded = qac.load(build)
    options = {"backend_options": {"noise_model": loaded.target.noise_model()}} if noise else {}
    sampled = SamplerV2(default_shots=700, seed=11, options=options).run(_outside_pubs(build)).result()
    decoded = qac.decode_counts(build, sampled, noise=noise, seed=11)
    from qac.execution.run import run

    ran = run(loaded, 700, seed=11, noise=noise, mitigation=False, engine="aer")  # Aer: SamplerV2's samples
    assert_same_arrays(decoded, ran)
    assert (decoded.shots, decoded.shots_used, decoded.circuits_run, decoded.mitigated) == \
        (700, ran.shots_used, ran.circuits_run, False)
    # the same samples as BitArrays, dense arrays and dicts
    bit_arrays = [r.data.meas for r in sampled]
    dicts = [[b.get_counts(i) for i in range(b.shape[0])] for b in bit_arrays]
    dense = [np.array([[row.get(format(v, f"0{b.num_bits}b"), 0) for v in range(1 << b.num_bits)] for row in rows])
             for rows, b in zip(dicts, bit_arrays)]
    for form in (bit_arrays, dicts, dense):
        assert loaded.decode_counts(form, seed=11).output.tobytes() == decoded.output.tobytes()


def test_packed_counts_are_marginalised_per_copy(tmp_path):
    """A packed PUB row carries k pairs; each copy's bits decode its own pair (40 qubits: Aer's MPS)."""
    from qiskit_aer.primitives import SamplerV2

    compiled = qac.compile(small(), "ibm_fez", pack="auto")
    assert max(compiled.copies(t) for t in compiled.program.isa) > 1
    sampler = SamplerV2(default_shots=4000, seed=5, options={"backend_options": {"method": "matrix_product_state"}})
    decoded = compiled.decode_counts(sampler.run(compiled.pubs()).result())
    exact = compiled.run(exact=True)
    for kernel, (mean, sem) in decoded.inner_products.items():
        assert np.all(np.abs(mean - exact.inner_products[kernel][0]) <= 5 * sem + 1e-9)
    assert decoded.circuits_run == sum(len(v) for _, v in compiled.pubs())


def test_counts_that_do_not_fit_the_pubs_are_one_line_errors():
    compiled = qac.compile(small(), "aer")
    (circuit, values), = compiled.pubs()
    rows = len(values)
    with pytest.raises(ExecutionError, match="got counts for 2 PUBs, but the program has 1"):
        compiled.decode_counts([np.ones((rows, 2)), np.ones((rows, 2))])
    with pytest.raises(ExecutionError, match=rf"counts of shape \(1, 2\), but the PUB has {rows} rows"):
        compiled.decode_counts([np.ones((1, 2))])
    with pytest.raises(ExecutionError, match="whole numbers"):
        compiled.decode_counts([np.full((rows, 2), -1)])
    with pytest.raises(ExecutionError, match="a row has no shots"):
        compiled.decode_counts([np.zeros((rows, 2))])
    with pytest.raises(ExecutionError, match="is not a bit string"):
        compiled.decode_counts([[{"x": 3}] * rows])
    with pytest.raises(ExecutionError, match="does not fit"):
        compiled.decode_counts([[{"11": 3}] * rows])


def test_run_dir_seed_is_the_sampler_seed(tmp_path):
    build = qac.compile(small()).save(tmp_path / "build")
    result = CliRunner().invoke(main, ["run", str(build), "--seed", "9", "-o", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "run" / "result.npz") as saved:
        assert saved["output"].tobytes() == qac.load(build).run(seed=9).output.tobytes()
    assert json.loads((tmp_path / "run" / "run.json").read_text())["seed"] == 9


def test_builds_that_cannot_be_loaded_are_one_line(tmp_path):
    build = qac.compile(small()).save(tmp_path / "build")
    with pytest.raises(OutputError, match="different|not 'ibm_fez'"):
        qac.load(build, target="ibm_fez")
    (build / "program.npz").write_bytes(b"not a zip")
    with pytest.raises(OutputError, match="program.npz is damaged"):
        qac.load(build)
    (build / "program.json").unlink()
    with pytest.raises(OutputError, match="no program.json .written by an older qac"):
        qac.load(build)
    result = CliRunner().invoke(main, ["run", str(build)])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "older qac" in result.output
