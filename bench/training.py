"""11. Training with quantum attention in the loop (issue 24): one MiniLM training step (forward +
backward, train mode, attention dropout on, batch 8 × 16 tokens, the second step of that shape
timed, every head of every layer on
circuits, 1024 shots) ideal and on ibm_fez's noise model (readout-mitigated), against the
classical step in the same run; and the circuits per training step and routed two-qubit gates per
score of qac (straight-through gradients: no gradient circuit) next to the per-pair Hadamard-test
quantum transformer of Smaldone et al. (arXiv 2502.19214), rebuilt for counting only.

The peer, as its paper and published code describe it: one circuit per (query, key) score, an
ancilla and n working qubits (n = 6, one ansatz layer, the code's defaults); the token and position
angle encodings on n/2 qubits each and the learned query/key ansätze on all n, each a layer of Ry
then a ring of CNOTs; the Hadamard test applies U_q†·U_pos,i†·U_tok,i† and U_tok,j·U_pos,j·U_k
controlled on the ancilla (controlled-Ry and Toffoli gates), and ⟨Z⟩ of the ancilla is the score.
Gradients by SPSA (all circuits again at +δ and −δ: 2 × the forward circuits) or by parameter shift
(2 per parameter of every circuit: 8 parameter groups × n/2 angles = 24 at n = 6). Assumed here:
the peer replaces every head of MiniLM (72 attentions), sees the same (batch, tokens) shape, and
runs every (query, key) pair of the bidirectional encoder (its decoder's causal mask would halve
it); its own de-duplication of identical circuits is ignored (the batch's tokens differ). Its
circuit is transpiled here for ibm_fez like qac's templates (optimization level 1, seed 0).
The standalone script is ``python -m bench.training``.
"""

from __future__ import annotations

import os
import statistics
import time

from bench.common import Section, pick

PEER_QUBITS, PEER_LAYERS = 6, 1
PEER_PARAMETERS = 8 * (PEER_QUBITS // 2) * PEER_LAYERS  # 8 angle groups per circuit (token, position, query, key × 2)


def peer_circuit(qubits: int = PEER_QUBITS, layers: int = PEER_LAYERS):
    """The Hadamard-test score circuit of Smaldone et al. (structure only; angles are placeholders)."""
    from qiskit import QuantumCircuit

    half = qubits // 2
    circuit = QuantumCircuit(qubits + 1, 1, name="smaldone_hadamard_test")
    ancilla = 0

    def block(span, theta, control=None, adjoint=False):
        ops = []
        for _ in range(layers):
            ops += [("ry", q) for q in span]
            ops += [("cx", span[i], span[(i + 1) % len(span)]) for i in range(len(span))]
        for op in (reversed(ops) if adjoint else ops):
            if op[0] == "ry":
                angle = -theta if adjoint else theta
                (circuit.cry(angle, ancilla, op[1]) if control else circuit.ry(angle, op[1]))
            else:
                (circuit.ccx(ancilla, op[1], op[2]) if control else circuit.cx(op[1], op[2]))

    work = list(range(1, qubits + 1))
    token, position = work[:half], work[half:2 * half]
    circuit.h(ancilla)
    block(token, 0.3)
    block(position, 0.4)
    block(work, 0.5)
    block(work, 0.5, control=True, adjoint=True)
    block(position, 0.4, control=True, adjoint=True)
    block(token, 0.3, control=True, adjoint=True)
    block(token, 0.6, control=True)
    block(position, 0.7, control=True)
    block(work, 0.8, control=True)
    circuit.h(ancilla)
    circuit.measure(ancilla, 0)
    return circuit


def routed_two_qubit_gates(circuit, target_name: str = "ibm_fez") -> int:
    from qac.passes.layout import transpile_template
    from qac.passes.resources import counts

    from qac import targets

    isa = transpile_template(circuit, targets.get(target_name), optimization_level=1, seed=0)
    return int(counts(isa)["two_qubit_gates"])


def peer_circuits_per_step(batch: int, tokens: int, attentions: int, causal: bool = False) -> dict:
    pairs = batch * attentions * (tokens * (tokens + 1) // 2 if causal else tokens * tokens)
    return {"forward": pairs, "spsa": 2 * pairs, "parameter shift": 2 * PEER_PARAMETERS * pairs}


def minilm_step(model, batch, config=None, *, seed: int = 0) -> tuple[float, list]:
    """One training step's forward + backward (train mode, dropout on): (seconds, records)."""
    import torch

    import qac.torch as qt

    records = []
    if config is None:
        model.set_attn_implementation("sdpa")
    else:
        backend = qt.register(config)
        model.set_attn_implementation("qac")
    model.train()
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    start = time.perf_counter()
    hidden = model(**batch).last_hidden_state
    hidden.pow(2).mean().backward()
    seconds = time.perf_counter() - start
    if config is not None:
        records = list(backend.records)
        backend.records.clear()
    model.set_attn_implementation("sdpa")
    return seconds, records


def batch_of(tokenizer, size: int, tokens: int):
    """``size`` sentences of exactly ``tokens`` word pieces ([CLS] and [SEP] included), no padding."""
    from bench.model import SENTENCE, sentence_of

    words = SENTENCE.split()
    texts = [sentence_of(tokenizer, tokens) if k == 0 else " ".join(words[k % len(words):] + words[:k % len(words)])
             for k in range(size)]
    return tokenizer(texts, padding="max_length", truncation=True, max_length=tokens, return_tensors="pt")


def measure(mode: str = "full") -> dict:
    import torch

    from qac.torch import QuantumAttentionConfig
    from qac.torch.model import load

    torch.set_num_threads(1)  # both steps on one BLAS thread: two ran 7x slower on the shared 2-core machine
    tokenizer, model = load(None)
    model = model.float()
    size, tokens, shots = 8, 16, 1024
    batch = batch_of(tokenizer, size, tokens)
    layers, heads = model.config.num_hidden_layers, model.config.num_attention_heads
    chosen = pick(mode, full="all", quick=(0,))
    classical = [minilm_step(model, batch)[0] for _ in range(3)]
    out = {"tokens": tokens, "batch": size, "shots": shots, "layers": chosen, "heads": heads,
           "classical_s": statistics.median(classical), "load_start": os.getloadavg()[0]}
    for name, extra in (("ideal", dict(target="aer")), ("noisy", dict(target="ibm_fez", noise=True, mitigation=True))):
        config = QuantumAttentionConfig(shots=shots, seed=0, layers=chosen, heads="all", **extra)
        minilm_step(model, batch_of(tokenizer, 1, tokens), config)  # warm-up: template, noise model, imports
        first, _ = minilm_step(model, batch, config)  # the first step of this shape also proves its closed form
        seconds, records = minilm_step(model, batch, config)  # a training loop's steady state
        classical = statistics.median([minilm_step(model, batch)[0] for _ in range(2)])
        out[name] = {"step_s": seconds, "first_step_s": first, "classical_s": classical,
                     "run_s": sum(i.run_seconds for _, i in records),
                     "compile_s": sum(i.compile_seconds for _, i in records),
                     "circuits": sum(i.circuits for _, i in records),
                     "circuits_run": sum(i.circuits_run for _, i in records),
                     "pairs": sum(i.pairs for _, i in records),
                     "two_qubit_gates_per_score": sorted({r["two_qubit_gates"] for _, i in records for r in i.kernels}),
                     "load": os.getloadavg()[0]}
    attentions = layers * heads if chosen == "all" else len(chosen) * heads
    out["attentions"] = attentions
    out["peer"] = {"full": peer_circuits_per_step(size, tokens, attentions),
                   "causal": peer_circuits_per_step(size, tokens, attentions, causal=True),
                   "two_qubit_gates_per_score_logical": int(peer_circuit().decompose(reps=3).num_nonlocal_gates()),
                   "two_qubit_gates_per_score_ibm_fez": routed_two_qubit_gates(peer_circuit())}
    out["load_end"] = os.getloadavg()[0]
    return out


def run(mode: str = "full") -> Section:
    section = Section("training", "11. Training with quantum attention in the loop")
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        section.note(f"torch/transformers are not installed ({exc}): skipped (`pip install -e '.[torch]'`).")
        return section
    data = measure(mode)
    section.data.update(data)
    shape = f"batch {data['batch']} × {data['tokens']} tokens, {data['attentions']} heads on circuits, {data['shots']} shots"
    rows = [{"step": "classical (torch SDPA)", "seconds": data["classical_s"], "× classical": 1.0, "run s": None,
             "compile s": None, "data circuits": 0, "circuits run": 0, "gradient circuits": 0}]
    for name in ("ideal", "noisy"):
        d = data[name]
        rows.append({"step": f"qac {name}" + (" (ibm_fez, mitigated)" if name == "noisy" else " (aer)"),
                     "seconds": d["step_s"], "× classical": d["step_s"] / d["classical_s"], "run s": d["run_s"],
                     "compile s": d["compile_s"], "data circuits": d["circuits"], "circuits run": d["circuits_run"],
                     "gradient circuits": 0})
    section.table(f"MiniLM training step (forward + backward, train mode), {shape}; load "
                  f"{data['load_start']:.1f} → {data['load_end']:.1f}",
                  ["step", "seconds", "× classical", "run s", "compile s", "data circuits", "circuits run",
                   "gradient circuits"], rows)
    peer, qac_gates = data["peer"], data["noisy"]["two_qubit_gates_per_score"]
    qac_circuits = data["noisy"]["circuits"]
    peer_rows = [{"method": "qac (straight-through)", "forward circuits": qac_circuits, "gradient circuits": 0,
                  "circuits per step": qac_circuits, "routed 2q gates per score (ibm_fez)": ", ".join(map(str, qac_gates))}]
    for label, key in (("Smaldone et al., SPSA", "spsa"), ("Smaldone et al., parameter shift", "parameter shift")):
        for mask in ("full", "causal"):
            counts = peer[mask]
            peer_rows.append({"method": f"{label} ({'every pair' if mask == 'full' else 'causal half'})",
                              "forward circuits": counts["forward"], "gradient circuits": counts[key],
                              "circuits per step": counts["forward"] + counts[key],
                              "routed 2q gates per score (ibm_fez)": str(peer["two_qubit_gates_per_score_ibm_fez"])})
    section.table(f"Circuits per training step ({shape}) and routed two-qubit gates per score",
                  ["method", "forward circuits", "gradient circuits", "circuits per step",
                   "routed 2q gates per score (ibm_fez)"], peer_rows)
    section.note(f"Peer circuit: {PEER_QUBITS} working qubits + ancilla, {PEER_LAYERS} ansatz layer, "
                 f"{PEER_PARAMETERS} angles per circuit; {peer['two_qubit_gates_per_score_logical']} two-qubit gates "
                 f"before routing, {peer['two_qubit_gates_per_score_ibm_fez']} after routing on ibm_fez.")
    ideal, noisy = (data[k]["step_s"] / data[k]["classical_s"] for k in ("ideal", "noisy"))
    section.targets.append(("training step, ideal, all heads quantum, ≤ 2× classical", ideal <= 2.0, f"{ideal:.1f}×"))
    section.targets.append(("training step, noisy ibm_fez, all heads quantum, ≤ 5× classical", noisy <= 5.0, f"{noisy:.1f}×"))
    section.targets.append(("gradient circuits per step: qac 0 against the peer", True,
                            f"0 against {peer['full']['spsa']:,} (SPSA) / {peer['full']['parameter shift']:,} "
                            f"(parameter shift)"))
    if ideal > 2.0:
        section.losses.append(f"an ideal training step with every head on circuits costs {ideal:.1f}× the classical "
                              "step (goal 2×): simulating the circuits dominates")
    if noisy > 5.0:
        section.losses.append(f"a noisy (ibm_fez) training step costs {noisy:.1f}× the classical step (goal 5×)")
    return section


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(measure("quick" if "--quick" in sys.argv else "full"), indent=1, default=str))
