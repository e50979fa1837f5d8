"""The two stages of a ``pv: quantum`` program, as the manifest and ``qac inspect`` show them.

Stage 1 is Q·Kᵀ (kernels ``h<h>_scores``), stage 2 is P·V (``h<h>_out``). Per stage: its kernels,
the widest register, routed two-qubit gates per circuit (the largest) and in all (Σ circuits ×
gates), circuits, shots at the spec's shots per pair, and the classical FLOPs of the same MatMul
(2·N·M·d for Q·Kᵀ, 2·N·M·dv for P·V: multiply-adds count 2) next to them. A program whose P·V is
classical has no stage table (its manifest is as before).
"""

from __future__ import annotations

MATMULS = {1: "Q·Kᵀ", 2: "P·V"}


def stage_of(kernel_name: str) -> int:
    """1 for a Q·Kᵀ kernel, 2 for a P·V kernel (named after the graph node ``h<h>.out``)."""
    return 2 if kernel_name.endswith("_out") else 1


def matmul_flops(N: int, M: int, d: int, dv: int) -> dict[int, int]:
    """Classical FLOPs of each MatMul (heads split d and dv, so the sums do not depend on them)."""
    return {1: 2 * N * M * d, 2: 2 * N * M * dv}


def stage_table(kernels: list[dict], shape: dict, shots: int) -> list[dict] | None:
    """Per stage (``None`` without stage-2 kernels); ``kernels``: the manifest's ``kernels`` rows
    (kernel, qubits, two_qubit_gates, circuits)."""
    if not any(stage_of(k["kernel"]) == 2 for k in kernels):
        return None
    flops = matmul_flops(shape["N"], shape["M"], shape["d"], shape["dv"])
    rows = []
    for stage in (1, 2):
        mine = [k for k in kernels if stage_of(k["kernel"]) == stage]
        circuits = sum(k["circuits"] for k in mine)
        rows.append({"stage": stage, "matmul": MATMULS[stage], "kernels": [k["kernel"] for k in mine],
                     "qubits": max((k["qubits"] for k in mine), default=0),
                     "two_qubit_gates_per_circuit": max((k["two_qubit_gates"] for k in mine), default=0),
                     "two_qubit_gates_routed": sum(k["circuits"] * k["two_qubit_gates"] for k in mine),
                     "circuits": circuits, "shots": circuits * shots, "classical_flops": flops[stage]})
    return rows


def render(stages: list[dict], out) -> None:
    """The stage table of ``qac inspect`` (a rich Console)."""
    from rich.table import Table

    table = Table(title="pv: quantum — two stages")
    for column in ("stage", "MatMul", "kernels", "qubits", "2q gates/circuit", "2q gates (all circuits)",
                   "circuits", "shots", "classical FLOPs"):
        table.add_column(column, justify="left" if column in ("MatMul", "kernels") else "right")
    for s in stages:
        table.add_row(str(s["stage"]), s["matmul"], ",".join(s["kernels"]), str(s["qubits"]),
                      str(s["two_qubit_gates_per_circuit"]), f"{s['two_qubit_gates_routed']:,}", f"{s['circuits']:,}",
                      f"{s['shots']:,}", f"{s['classical_flops']:,}")
    out.print(table)
