"""3. Kernel-matrix throughput at equal shots on Aer: qac's score matrix vs.
qiskit-machine-learning's ``FidelityQuantumKernel`` with an amplitude-encoding feature map.

They do not compute the same thing, and the report says so: the QML kernel is the
fidelity |⟨x̂|ŷ⟩|² — unsigned, norms lost — while qac returns the signed ⟨q̂|k̂⟩ and the
scaled scores scale·|q||k|·⟨q̂|k̂⟩ (then the attention output). The comparison is like
for like in circuits and shots: one circuit per (row, column) entry, the same shots per
circuit, the same Aer (ideal) in the same process with the same options — qac's
``AerSimulator`` options (``qac.execution.aer_engine.AER_OPTIONS``) are handed to the peers' ``SamplerV2``
too, and ``OMP_WAIT_POLICY=PASSIVE`` holds for both — the wall time of everything from the
raw vectors to the matrix, best of repeats. One-off imports are excluded for both: one small
run of each side warms Qiskit, Aer and QML before any timing. qac's time is ``qac.compile``
(spec loading, pipeline, the one template transpile) plus ``run`` (binding, sampling,
decoding, reconstructing the attention output). Peers:

* ``raw_feature_vector`` — QML's own amplitude-encoding feature map in
  ``FidelityQuantumKernel``. The suite tries it and reports the outcome; in
  qiskit-machine-learning 0.9 it fails, because its placeholder instruction cannot be
  inverted while unbound (upstream issue #205, closed as "won't do/fix").
* ``FidelityQuantumKernel + Ry-tree map`` — the kernel with an amplitude-encoding feature
  map that it can take: the Möttönen Ry tree with its angles as parameters (computed
  classically from each vector, with qac's helper functions), ComputeUncompute, Aer.
  This is the strongest peer: it, too, binds one parametrised circuit per pair.
* ``ComputeUncompute + StatePreparation per pair`` — what ``raw_feature_vector`` means
  once bound: QML's ``ComputeUncompute`` on each pair's ``StatePreparation(x̂)`` ·
  ``StatePreparation(ŷ)``⁻¹, transpiled per pair for Aer's basis, P(0…0).
"""

from __future__ import annotations

import numpy as np

from bench.common import Section, attention_inputs, best_of, pick, save_figure, units

AER_BASIS = ["cx", "ry", "rz", "sx", "x", "h", "measure"]


def qml_available() -> str | None:
    try:
        import qiskit_machine_learning  # noqa: F401
    except ImportError as exc:
        return f"qiskit-machine-learning is not installed ({exc}); `pip install -e .[bench]`"
    return None


def sampler(shots: int, seed: int):
    """The peers' sampler: Aer's SamplerV2 with the AerSimulator options qac runs with."""
    from qac.execution.aer_engine import sampler as qac_sampler

    return qac_sampler(shots, seed)


def raw_feature_vector_attempt(d: int) -> str | None:
    """None if QML's raw_feature_vector works in FidelityQuantumKernel, else the error."""
    from qiskit_machine_learning.circuit.library import raw_feature_vector
    from qiskit_machine_learning.kernels import FidelityQuantumKernel
    from qiskit_machine_learning.state_fidelities import ComputeUncompute

    rng = np.random.default_rng(0)
    try:
        kernel = FidelityQuantumKernel(feature_map=raw_feature_vector(d),
                                       fidelity=ComputeUncompute(sampler=sampler(64, 1)))
        kernel.evaluate(rng.standard_normal((2, d)), rng.standard_normal((2, d)))
    except Exception as exc:  # the documented failure mode
        return f"{type(exc).__name__}: {exc}"
    return None


def qml_tree_kernel(X, Y, shots: int, seed: int) -> np.ndarray:
    from qiskit import QuantumCircuit
    from qiskit.circuit import ParameterVector
    from qiskit_machine_learning.kernels import FidelityQuantumKernel
    from qiskit_machine_learning.state_fidelities import ComputeUncompute

    from qac.kernels.encodings.binary import (
        append_ry_tree,
        gray_angles,
        num_qubits_for,
        tree_angles,
    )

    d = X.shape[1]
    n = num_qubits_for(d)
    params = ParameterVector("x", d - 1)
    feature_map = QuantumCircuit(n)
    append_ry_tree(feature_map, feature_map.qubits, list(params))
    ax, ay = gray_angles(tree_angles(units(X)), n), gray_angles(tree_angles(units(Y)), n)
    kernel = FidelityQuantumKernel(feature_map=feature_map, fidelity=ComputeUncompute(sampler=sampler(shots, seed)))
    return kernel.evaluate(ax, ay)


def qml_stateprep_kernel(X, Y, shots: int, seed: int) -> np.ndarray:
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import StatePreparation
    from qiskit.transpiler import generate_preset_pass_manager
    from qiskit_machine_learning.state_fidelities import ComputeUncompute

    n = int(np.log2(X.shape[1]))

    def prep(v):
        c = QuantumCircuit(n)
        c.append(StatePreparation(v), range(n))
        return c

    left, right = [prep(x) for x in units(X)], [prep(y) for y in units(Y)]
    c1 = [left[i] for i in range(len(X)) for _ in range(len(Y))]
    c2 = [right[j] for _ in range(len(X)) for j in range(len(Y))]
    manager = generate_preset_pass_manager(optimization_level=1, basis_gates=AER_BASIS, seed_transpiler=0)
    fidelity = ComputeUncompute(sampler=sampler(shots, seed), pass_manager=manager)
    # values=None fails for a list of unparametrised circuits in QML 0.9 (it builds one empty
    # row for all of them); an explicit empty row per circuit works.
    empty = [[] for _ in c1]
    values = fidelity.run(c1, c2, empty, empty).result().fidelities
    return np.asarray(values).reshape(len(X), len(Y))


def qac_matrix(spec: dict, shots: int, seed: int):
    """(signed inner-product matrix, Result, {"compile": s, "run": s}) of one qac compile + run."""
    import time

    from qac.passes.layout import TemplateCache

    import qac

    start = time.perf_counter()
    compiled = qac.compile(spec, "aer", seed=seed, cache=TemplateCache())  # cold: the transpile counts
    middle = time.perf_counter()
    result = compiled.run(shots=shots, seed=seed)
    split = {"compile": middle - start, "run": time.perf_counter() - middle}
    kernel = compiled.kernels[0]
    inner = np.zeros(kernel.shape)
    mean, _ = result.inner_products[kernel.name]
    inner[kernel.pairs[:, 0], kernel.pairs[:, 1]] = mean
    return inner, result, split


def rms(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def run(mode: str = "full") -> Section:
    section = Section("throughput", "3. Kernel-matrix throughput at equal shots (Aer, ideal)")
    missing = qml_available()
    if missing:
        section.note(f"qiskit-machine-learning peers skipped: {missing}")
        section.targets.append(("kernel matrix ≥ 10× the throughput of the QML kernel at equal shots", None,
                                "not measured: qiskit-machine-learning missing"))
        return section
    # (N, d, shots, run the per-pair StatePreparation peer?) — that peer transpiles every pair
    # (≈30 s at 32×32); at 64×64 it would take ~2 min for a ratio already far above 10×.
    cases = pick(mode, full=[(16, 8, 1024, True), (32, 16, 1024, True), (64, 16, 1024, False)],
                 quick=[(16, 8, 1024, True)], tiny=[(2, 4, 64, True)])
    repeats = pick(mode, full=3, quick=2, tiny=1)
    failure = raw_feature_vector_attempt(4)
    section.data["raw_feature_vector_error"] = failure
    if failure:
        section.note("qiskit-machine-learning's own amplitude-encoding feature map, raw_feature_vector, does not run "
                     f"in FidelityQuantumKernel: `{failure}` (upstream issue #205, closed as won't do/fix). The peers "
                     "below are the two ways around it.")
    rows, accuracy = [], []
    qac_matrix(attention_inputs(2, 2, 8), 16, 1)  # warm both sides' imports: excluded from both
    qml_tree_kernel(np.ones((2, 8)), np.ones((2, 8)) + np.eye(2, 8), 16, 1)
    for n, d, shots, per_pair in cases:
        spec = attention_inputs(n, n, d, seed=11)
        X, Y = np.asarray(spec["Q"]), np.asarray(spec["K"])
        exact_c = units(X) @ units(Y).T
        splits = []

        def timed_qac():
            out = qac_matrix(spec, shots, 5)
            splits.append(out[2])
            return out

        t_qac, med_qac, (inner, result, _) = best_of(timed_qac, repeats)
        best_split = min(splits, key=lambda s: s["compile"] + s["run"])
        # the tree peer takes ≈70 s per call at 64×64 on this machine: best of 2 there
        t_tree, med_tree, k_tree = best_of(lambda: qml_tree_kernel(X, Y, shots, 5), min(repeats, 2) if n >= 64 else repeats)
        entries = n * n
        base = {"N×M": f"{n}×{n}", "d": d, "shots/entry": shots}
        rows.append({**base, "method": "qac (compile + run + reconstruct)", "s (best)": t_qac, "s (median)": med_qac,
                     "entries/s": entries / t_qac, "qac speedup": 1.0, "qac compile s": best_split["compile"],
                     "qac run s": best_split["run"], "wall µs per shot": 1e6 * t_qac / (entries * shots)})
        rows.append({**base, "method": "QML FidelityQuantumKernel + Ry-tree map", "s (best)": t_tree,
                     "s (median)": med_tree, "entries/s": entries / t_tree, "qac speedup": t_tree / t_qac,
                     "wall µs per shot": 1e6 * t_tree / (entries * shots)})
        k_prep, t_prep = None, None
        if per_pair:
            t_prep, med_prep, k_prep = best_of(lambda: qml_stateprep_kernel(X, Y, shots, 5), 1)
            rows.append({**base, "method": "QML ComputeUncompute + StatePreparation per pair", "s (best)": t_prep,
                         "s (median)": med_prep, "entries/s": entries / t_prep, "qac speedup": t_prep / t_qac,
                         "wall µs per shot": 1e6 * t_prep / (entries * shots)})
        accuracy.append({**base, "qac RMS err of ⟨q̂|k̂⟩ (signed)": rms(inner, exact_c),
                         "qac RMS err of ⟨q̂|k̂⟩² (from its estimate)": rms(inner**2, exact_c**2),
                         "QML tree RMS err of |⟨x̂|ŷ⟩|²": rms(k_tree, exact_c**2),
                         "QML per-pair RMS err of |⟨x̂|ŷ⟩|²": rms(k_prep, exact_c**2) if per_pair else None,
                         "sign of ⟨·|·⟩ recovered": "qac yes / QML no",
                         "norms kept": "qac yes / QML no"})
        print(f"  {n}x{n} d={d} shots={shots}: qac {t_qac:.2f} s (compile {best_split['compile']:.3f}, run "
              f"{best_split['run']:.2f}), QML tree {t_tree:.2f} s"
              + (f", QML per-pair {t_prep:.2f} s" if per_pair else ""), flush=True)
    section.data.update(rows=rows, accuracy=accuracy)
    section.table("Kernel matrix at equal shots on Aer (this machine's seconds, same run; "
                  "qac speedup = peer seconds / qac seconds, best of repeats)",
                  ["N×M", "d", "shots/entry", "method", "s (best)", "s (median)", "entries/s", "qac speedup",
                   "qac compile s", "qac run s", "wall µs per shot"], rows)
    section.table("What each computed, at those shots (RMS error against numpy over the matrix)",
                  ["N×M", "d", "shots/entry", "qac RMS err of ⟨q̂|k̂⟩ (signed)",
                   "qac RMS err of ⟨q̂|k̂⟩² (from its estimate)", "QML tree RMS err of |⟨x̂|ŷ⟩|²",
                   "QML per-pair RMS err of |⟨x̂|ŷ⟩|²"], accuracy)
    section.note("Like with like: the QML kernel is the unsigned fidelity |⟨x̂|ŷ⟩|² of unit vectors — the sign and "
                 "the norms are lost — while qac estimates the signed ⟨q̂|k̂⟩ and rescales it by |q||k| into the "
                 "scores. The qac time includes compiling, running, and reconstructing the attention output.")
    section.note("Same process, same Aer, same options for both sides (qac's AerSimulator options, "
                 "`runtime_parameter_bind_enable`, are handed to the peers' SamplerV2 as well; OMP_WAIT_POLICY=PASSIVE); "
                 "imports are warmed before timing and excluded for both. qac's seconds are compile + run; the "
                 "per-pair StatePreparation peer is timed once (it transpiles every pair) and not at all at 64×64.")
    section.note("Where qac's remaining time goes: nearly all of `run` is Aer itself drawing and counting the shots "
                 "(≈0.6 µs per shot in Aer's C++ on this machine, plus ≈0.2 ms per bound row); compile is a few "
                 "milliseconds and decoding, reconstruction and mitigation bookkeeping (off) under 20 ms. qac already "
                 "skips what the peers pay for on top — one experiment per pair, per-shot bit strings turned into "
                 "Python objects (SamplerV2's memory, QML's BitArray.get_counts) — so the ratio is bounded by "
                 "that shared per-shot floor: it is largest where the peers' per-pair Python overhead is largest "
                 "relative to the shots (bigger d, more pairs) and smallest for small, cheap circuits.")
    for r in rows:
        if r["method"].startswith("QML"):
            section.targets.append((f"kernel matrix {r['N×M']}, d={r['d']}: ≥ 10× the throughput of {r['method']}",
                                    r["qac speedup"] >= 10, f"{r['qac speedup']:.1f}×"))
            if r["qac speedup"] < 10:
                why = ("; that peer, too, binds one parametrised circuit per entry and samples it on the same Aer, "
                       "and at equal shots both pay Aer's per-shot cost, which is most of qac's time"
                       if "Ry-tree" in r["method"] else "")
                section.losses.append(f"throughput {r['N×M']}, d={r['d']}: qac is only {r['qac speedup']:.1f}× "
                                      f"faster than {r['method']} (goal 10×){why}.")
            if r["qac speedup"] < 1:
                section.losses.append(f"throughput {r['N×M']}: {r['method']} is faster than qac.")
    for a in accuracy:
        if a["qac RMS err of ⟨q̂|k̂⟩² (from its estimate)"] > a["QML tree RMS err of |⟨x̂|ŷ⟩|²"]:
            section.losses.append(
                f"accuracy {a['N×M']} d={a['d']}: for the squared overlap alone, QML's compute-uncompute is more "
                f"precise at equal shots (RMS {a['QML tree RMS err of |⟨x̂|ŷ⟩|²']:.4f} vs qac's squared estimate "
                f"{a['qac RMS err of ⟨q̂|k̂⟩² (from its estimate)']:.4f}): its P(0…0) = c² has variance "
                "c²(1−c²) per shot, which is small for near-orthogonal vectors; qac pays for the sign.")
    return section


def plot(section: Section, img_dir) -> list[str]:
    if not section.data.get("rows"):
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = section.data["rows"]
    cases = list(dict.fromkeys(r["N×M"] + f", d={r['d']}" for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(methods)
    for k, method in enumerate(methods):
        values = [next((r["entries/s"] for r in rows if r["method"] == method and r["N×M"] + f", d={r['d']}" == c),
                       np.nan) for c in cases]  # a peer not run at a size: no bar
        ax.bar(np.arange(len(cases)) + k * width, values, width, label=method)
    ax.set_xticks(np.arange(len(cases)) + width * (len(methods) - 1) / 2, cases)
    ax.set_yscale("log")
    ax.set_ylabel("kernel entries per second (this machine)")
    ax.set_title(f"Kernel-matrix throughput at {rows[0]['shots/entry']} shots/entry, Aer ideal")
    ax.legend(fontsize=7)
    ax.grid(True, axis="y", alpha=0.3)
    return save_figure(fig, img_dir, "throughput.png")
