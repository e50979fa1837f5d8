"""``qac inspect``: what a compiled attention kernel costs, as data (``--json``) and as tables.

A report is a plain JSON-able dict, built either from a fresh compile of a spec or from a
``qac compile -o DIR`` directory (its manifest and QASM files). Per kernel: qubits, routed
two-qubit gates, depth, duration, ESP and the shots for ε = 0.01 (``passes/cost``); the
physical qubits; the QASM of one kernel; the IR after every pass when compiled here; and an
honest account — the classical FLOPs of the same attention next to circuits × shots × gates.
"""

from __future__ import annotations

from pathlib import Path

from qac.errors import OutputError
from qac.ir.stages import stage_table

PRECISION = 0.01


def classical_flops(N: int, M: int, d: int, dv: int, heads: int) -> int:
    """Multiply-adds counted as 2 FLOPs: Q·Kᵀ (2NMd), scale + mask (2NM), softmax (~5NM:
    max, subtract, exp, sum, divide), P·V (2NM·dv); heads split d and dv, so the sum is the same."""
    return 2 * N * M * d + 2 * N * M * heads + 5 * N * M * heads + 2 * N * M * dv


def _account(spec_shape: dict, kernels: list[dict], shots: int) -> dict:
    circuits = sum(k["circuits"] for k in kernels)
    gates = sum(k["circuits"] * k["gates"] for k in kernels)
    two_qubit = sum(k["circuits"] * k["two_qubit_gates"] for k in kernels)
    flops = classical_flops(**spec_shape)
    return {"classical_flops": flops, "circuits": circuits, "shots_per_circuit": shots,
            "shots_total": circuits * shots, "gate_applications": gates * shots,
            "two_qubit_gate_applications": two_qubit * shots,
            "ratio_gate_applications_to_flops": round(gates * shots / max(flops, 1), 3)}


def report_from_compiled(compiled, *, precision: float = PRECISION, qasm_kernel: str | None = None) -> dict:
    """The inspect report of a ``CompiledAttention`` (compiled in this process)."""
    from qac.passes.cost_model import statistics

    spec, program = compiled.spec, compiled.program
    kernels = []
    for kernel in compiled.kernels:
        name = program.module.bindings[kernel.name].template
        template = program.module.templates[name]
        resources = program.resources[name]
        figures = resources.figures()
        kernels.append({"kernel": kernel.name, "head": kernel.head, "template": name, "encoding": template.encoding,
                        "estimator": template.estimator, "d": kernel.d, "circuits": int(len(kernel.pairs)),
                        "gates": resources.gates, **figures,
                        **statistics(template.estimator, figures["esp"], spec.shots, precision, d=kernel.d,
                                     measured_bits=resources.measured_bits)})
    chosen = qasm_kernel or (kernels[0]["kernel"] if kernels else None)
    qasm = None
    if chosen is not None:
        match = [k for k in kernels if k["kernel"] == chosen]
        if not match:
            raise OutputError(f"no kernel named {chosen!r}; kernels: {', '.join(k['kernel'] for k in kernels)}")
        qasm = {"kernel": chosen, "text": compiled.qasm(match[0]["template"])}
    shape = {"N": spec.N, "M": spec.M, "d": spec.d, "dv": spec.dv, "heads": spec.heads}
    return {"spec": spec.name, "target": compiled.target.name, "pipeline": compiled.pipeline,
            "precision": precision, "shots": spec.shots, "kernels": kernels,
            "stages": stage_table(kernels, shape, spec.shots),
            "account": _account(shape, kernels, spec.shots), "qasm": qasm,
            "cost": None if program.cost is None else program.cost.as_dict(),
            "ir": [{"after": name, "text": text} for name, text in compiled.snapshots]}


def report_from_directory(directory: Path, *, precision: float = PRECISION, qasm_kernel: str | None = None) -> dict:
    """The inspect report of a ``qac compile -o DIR`` output (manifest + QASM; no IR snapshots)."""
    from qac.artefacts.bundle import read_manifest

    manifest = read_manifest(directory)  # the reader qac verify and qac.load share: one line if damaged
    try:
        return _directory_report(Path(directory), manifest, precision=precision, qasm_kernel=qasm_kernel)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise OutputError(f"{Path(directory) / 'manifest.json'}: not a qac manifest ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:80]}); re-create the directory with "
                          f"`qac compile -o DIR --force`") from None
    except OSError as exc:
        raise OutputError(f"cannot read {exc.filename or directory}: {exc.strerror}; re-create the directory with "
                          f"`qac compile -o DIR --force`") from None


def _directory_report(directory: Path, manifest: dict, *, precision: float, qasm_kernel: str | None) -> dict:
    from qac.passes.cost_model import statistics

    templates = {t["name"]: t for t in manifest["templates"]}
    spec = manifest["spec"]
    kernels = []
    for row in manifest["kernels"]:
        t = templates[row["template"]]
        esp = t.get("esp", 1.0)
        operations = t.get("operations", {})
        kernels.append({"kernel": row["kernel"], "head": row["head"], "template": row["template"],
                        "encoding": t["encoding"], "estimator": t["estimator"], "d": row["d"],
                        "circuits": row["circuits"],
                        "gates": sum(v for k, v in operations.items() if k not in ("barrier", "measure")),
                        "qubits": t["qubits"], "two_qubit_gates": t["two_qubit_gates"], "depth": t["depth"],
                        "duration_ns": t.get("duration_ns"), "esp": esp, "physical_qubits": t["physical_qubits"],
                        **statistics(t["estimator"], esp, spec["shots"], precision, d=row["d"],
                                     measured_bits=operations["measure"])})
    qasm = None
    if kernels:
        chosen = qasm_kernel or kernels[0]["kernel"]
        match = [k for k in kernels if k["kernel"] == chosen]
        if not match:
            raise OutputError(f"no kernel named {chosen!r}; kernels: {', '.join(k['kernel'] for k in kernels)}")
        qasm = {"kernel": chosen, "text": (Path(directory) / templates[match[0]["template"]]["file"]).read_text()}
    shape = {"N": spec["N"], "M": spec["M"], "d": spec["d"], "dv": spec["dv"], "heads": spec["heads"]}
    return {"spec": spec["name"], "target": manifest["target"]["name"], "pipeline": manifest["pipeline"],
            "precision": precision, "shots": spec["shots"], "kernels": kernels,
            "stages": stage_table(kernels, shape, spec["shots"]),
            "account": _account(shape, kernels, spec["shots"]), "qasm": qasm, "cost": manifest.get("cost"), "ir": []}


def render(report: dict, out, *, print_after_all: bool = False, show_qasm: bool = False) -> None:
    """Print a report with rich tables on ``out`` (a rich Console)."""
    from rich.table import Table

    if print_after_all:
        if not report["ir"]:
            out.print("(no IR snapshots: inspect the spec, not a compiled directory, for --print-after-all)")
        for item in report["ir"]:
            out.print(f"[bold]// IR after {item['after']}[/bold]")
            out.print(item["text"], markup=False)
    eps = report["precision"]
    table = Table(title=f"{report['spec']} on {report['target']}", caption=f"pipeline: {report['pipeline']}")
    columns = ("kernel", "encoding/estimator", "circuits", "qubits", "2q gates", "depth", "duration (µs)", "ESP",
               f"shots for ε={eps:g}", "physical qubits")
    for column in columns:
        table.add_column(column, justify="left" if column in ("kernel", "encoding/estimator", "physical qubits") else "right")
    for k in report["kernels"]:
        duration = "—" if k["duration_ns"] is None else f"{k['duration_ns'] / 1000:.2f}"
        table.add_row(k["kernel"], f"{k['encoding']}/{k['estimator']}", str(k["circuits"]), str(k["qubits"]),
                      str(k["two_qubit_gates"]), str(k["depth"]), duration, f"{k['esp']:.3f}",
                      ("unreachable" if k["shots_for_precision"] is None else str(k["shots_for_precision"])), ",".join(map(str, k["physical_qubits"])))
    out.print(table)
    if report.get("stages"):
        from qac.ir.stages import render as render_stages

        render_stages(report["stages"], out)
    auto = (report.get("cost") or {}).get("auto")
    if auto:
        choice, runner = auto["choice"], auto["runner_up"]
        out.print(f"auto chose {choice['encoding']}/{choice['estimator']} (expected error {choice['expected_error']:.4g} "
                  f"at {report['shots']} shots, {choice['two_qubit_gates']} two-qubit gates)", markup=False)
        if runner:
            out.print(f"  runner-up {runner['encoding']}/{runner['estimator']} (expected error "
                      f"{runner['expected_error']:.4g}, {runner['two_qubit_gates']} two-qubit gates)", markup=False)
    a = report["account"]
    out.print(f"honest account: classical attention costs {a['classical_flops']:,} FLOPs; the quantum kernels run "
              f"{a['circuits']:,} circuits x {a['shots_per_circuit']:,} shots = {a['shots_total']:,} shots and "
              f"{a['gate_applications']:,} gate applications ({a['two_qubit_gate_applications']:,} two-qubit), "
              f"{a['ratio_gate_applications_to_flops']:,}x the FLOPs", markup=False)
    if show_qasm and report["qasm"]:
        out.print(f"[bold]// OpenQASM 3 of kernel {report['qasm']['kernel']}[/bold]")
        out.print(report["qasm"]["text"], markup=False)
