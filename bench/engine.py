"""The batched engine (``qac.simulator``) against qac's Aer path and peers, measured in one run.

Prints, per workload, the wall time of the batched engine (outcome probabilities for every row
+ multinomial counts) next to qac's current Aer path (``qac.execution.run_pubs``: counts from
``AerSimulator`` with runtime parameter binding, as ``run`` uses today) on the same compiled ISA
PUBs, and their ratio. Compiling is excluded on both sides (same ``CompiledAttention``). On the
big cases Aer runs a subset of the rows and its time is scaled linearly to all rows (stated in
the output). Peers: PennyLane ``default.qubit`` with parameter broadcasting on the same score
matrices (if installed), and the closed-form floor P(0) = (1 + ⟨q̂|k̂⟩)/2 + binomial draws.

    python -m bench.engine [--quick] [--only ideal|noisy|heads|pennylane …]

The machine may be shared: figures are wall times of one process on whatever cores it gets.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

#: The workloads ``--only`` can pick.
CASES = ("ideal", "noisy", "heads", "pennylane")
PASSES = "normalize,encode{method=binary},estimate{method=interference},layout{optimization_level=1}"


def spec(n: int, d: int, heads: int = 1, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"Q": rng.standard_normal((n, d * heads)).tolist(), "K": rng.standard_normal((n, d * heads)).tolist(),
            "V": rng.standard_normal((n, 2 * heads)).tolist(), "heads": heads}


def compile_for(n, d, target, heads=1):
    import qac

    return qac.compile(spec(n, d, heads), target=target, passes=PASSES)


def timed(f, repeats=1):
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def engine_time(prog, shots, noise_model=None, seed=1):
    from qac.simulator import probabilities, sample_counts

    def go():
        return [sample_counts(probabilities(c, v, noise_model), shots, (seed, k)) for k, (c, v) in enumerate(prog.pubs())]
    return timed(go)[0]


def aer_time(prog, shots, noise_model=None, max_rows=None):
    """Seconds for qac's Aer path on all rows (scaled from the first ``max_rows`` rows of each PUB)."""
    from qac.execution.aer_engine import run_pubs

    pubs = prog.pubs()
    total = sum(len(v) for _, v in pubs)
    sub = [(c, v[:max_rows] if max_rows else v, shots) for c, v in pubs]
    ran = sum(len(v) for _, v, _ in sub)
    seconds = timed(lambda: run_pubs(sub, seed=1, noise_model=noise_model))[0]
    return seconds * total / ran, ran, total


def pennylane_p0(n: int, d: int, *, device: str = "default.qubit", shots: int | None = None):
    """PennyLane broadcast over all n·n pairs: StatePrep((|0⟩|q̂⟩ + |1⟩|k̂⟩)/√2), H on the branch
    qubit, ``probs`` of it (the logical interference circuit): a function returning P(0) per pair
    (analytic, or from ``shots`` samples), or None without PennyLane. The peers time that function."""
    try:
        import pennylane as qml
    except ImportError:
        return None
    rng = np.random.default_rng(0)
    Q, K = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    width = int(np.ceil(np.log2(d)))

    def p0():
        q = Q / np.linalg.norm(Q, axis=1, keepdims=True)
        k = K / np.linalg.norm(K, axis=1, keepdims=True)
        states = np.concatenate([np.repeat(q, n, axis=0), np.tile(k, (n, 1))], axis=1) / np.sqrt(2)
        def prepared(state):
            qml.StatePrep(state, wires=range(width + 1))
            qml.Hadamard(0)
            return qml.probs(wires=0)
        circuit = qml.qnode(qml.device(device, wires=width + 1, seed=1))(prepared)
        if shots is not None:
            circuit = qml.set_shots(shots)(circuit)
        return np.asarray(circuit(states))[:, 0]
    return p0


def pennylane_time(n, d, shots):
    """PennyLane default.qubit with finite shots (its per-shot sampling) → ⟨q̂|k̂⟩ = 2 P(0) − 1."""
    p0 = pennylane_p0(n, d, shots=shots)
    if p0 is None:
        return None
    return timed(lambda: (2 * p0() - 1).reshape(n, n))[0]


def floor_time(pairs, shots):
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((pairs, 32)), rng.standard_normal((pairs, 32))

    def go():
        c = np.einsum("ij,ij->i", q, k) / np.linalg.norm(q, axis=1) / np.linalg.norm(k, axis=1)
        return rng.binomial(shots, (1 + c) / 2)
    return timed(go, repeats=3)[0]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds of Aer")
    parser.add_argument("--only", choices=CASES, action="append",
                        help="run only these workloads (repeatable; default: all of " + ", ".join(CASES) + ")")
    args = parser.parse_args(argv)
    cases = set(args.only or CASES)
    import qac.targets

    quick = args.quick
    fez = qac.targets.get("ibm_fez").noise_model()
    print(f"# bench.engine ({'quick' if quick else 'full'}); cores available: {os.cpu_count()}; load average "
          f"{os.getloadavg()[0]:.2f}; the machine may be shared with other jobs: wall times vary")
    print("workload | rows | engine s | Aer s (rows run) | Aer / engine")

    def row(label, prog, shots, noise_model, aer_rows):
        e = engine_time(prog, shots, noise_model)
        a, ran, total = aer_time(prog, shots, noise_model, aer_rows)
        run = "all rows" if ran == total else f"{ran} rows run, scaled to {total}"
        print(f"{label} | {total} | {e:.3f} | {a:.2f} ({run}) | {a / e:.0f}x", flush=True)
        return e, total

    if "ideal" in cases:
        n = 32 if quick else 128
        e_ideal, pairs = row(f"ideal ibm_fez N=M={n} d=32 8192 shots (goal >= 100x)", compile_for(n, 32, "ibm_fez"),
                             8192, None, 256 if quick else 512)
    if "noisy" in cases:
        n = 8 if quick else 32
        row(f"noisy ibm_fez N=M={n} d=32 8192 shots (goal >= 20x)", compile_for(n, 32, "ibm_fez"), 8192, fez,
            8 if quick else 24)
    if "heads" in cases:
        tokens = 16 if quick else 64
        heads = 12
        prog = compile_for(tokens, 32, "ibm_fez", heads=heads)
        t = engine_time(prog, 8192)
        print(f"ideal {heads} heads x {tokens} tokens d=32 8192 shots ibm_fez: engine {t:.2f} s (goal < 60 s)", flush=True)
        t = engine_time(prog, 8192, fez)
        print(f"noisy {heads} heads x {tokens} tokens d=32 8192 shots ibm_fez: engine {t:.2f} s "
              f"(all {len(prog.pubs())} heads; goal < 900 s)", flush=True)
    if "pennylane" not in cases:
        print(f"# load average at the end: {os.getloadavg()[0]:.2f}")
        return

    print("\nPennyLane default.qubit broadcasting (logical circuit) vs the engine on the aer ISA circuit (same score matrix size, same shots)")
    print("matrix | shots | PennyLane s | engine s | PennyLane / engine")
    sizes = [(16, 8), (32, 32)] if quick else [(16, 8), (32, 32), (64, 32)]
    for n, d in sizes:
        prog = compile_for(n, d, "aer")
        for shots in (1024, 8192):
            p = pennylane_time(n, d, shots)
            e = engine_time(prog, shots)
            print(f"{n}x{n} d={d} | {shots} | {'not installed' if p is None else f'{p:.3f}'} | {e:.3f} | "
                  f"{'-' if p is None else f'{p / e:.1f}x'}", flush=True)

    if "ideal" not in cases:
        print(f"# load average at the end: {os.getloadavg()[0]:.2f}")
        return
    per_pair = e_ideal / pairs
    f = floor_time(4096, 8192) / 4096
    print(f"\nideal engine per pair (ibm_fez d=32, 8192 shots): {per_pair * 1e6:.1f} us; closed-form floor "
          f"(numpy P(0)=(1+c)/2 + binomial, 4096 pairs): {f * 1e6:.3f} us; engine / floor = {per_pair / f:.0f}x")
    print(f"# load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
