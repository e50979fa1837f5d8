"""One bound ISA circuit per template, read from program.qpy and bindings.npz, drawn with
Qiskit's matplotlib drawer (idle device qubits left out)."""

from __future__ import annotations

from qac.report.figures import png_uri
from qac.report.load import Bundle, ReportError

MAX_DRAWN_OPERATIONS = 600  # beyond this a drawing is a wall of gates: the text drawer's first lines instead
TEXT_LINES = 60


def isa_templates(bundle: Bundle) -> dict:
    """Template name → ISA circuit (program.qpy holds them in the manifest's sorted order)."""
    from qiskit import qpy

    names = sorted(t["name"] for t in bundle.manifest["templates"])
    path = bundle.directory / "program.qpy"
    try:
        with path.open("rb") as handle:
            circuits = qpy.load(handle)
    except Exception as exc:  # QPY raises its own error types for damaged files
        raise ReportError(f"{path} is damaged ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                          f"write it again with `qac compile -o DIR` or `qac run SPEC -o DIR`") from None
    if len(circuits) != len(names):
        raise ReportError(f"{path} holds {len(circuits)} circuits but manifest.json names {len(names)} templates; "
                          f"write it again with `qac compile -o DIR` or `qac run SPEC -o DIR`")
    return dict(zip(names, circuits))


def first_row(bundle: Bundle, template: str):
    """The values of the first circuit of ``template``: the first bindings row of its first
    kernel, or for a packed template the first k pairs side by side (pair l runs on copy l mod k,
    as ``CompiledAttention.packed_values`` lays them out). Returns (kernel name, row, copies)."""
    import numpy as np

    placement = bundle.manifest.get("placement", {})
    base, copies = template, 1
    for name, info in placement.items():
        if info.get("packed_template") == template:
            base, copies = name, int(info["copies"])
    for kernel in bundle.manifest["kernels"]:
        if kernel["template"] == base:
            values = bundle.bindings.get(f"{kernel['kernel']}.values")
            if values is not None and len(values):
                rows = np.zeros((copies, values.shape[1]))
                rows[:min(copies, len(values))] = values[:copies]
                return kernel["kernel"], rows.reshape(-1), copies
    return None, None, copies


def can_draw_mpl() -> bool:
    """Qiskit's matplotlib drawer needs pylatexenc (in the report extra); else the text drawer."""
    from qiskit.utils import optionals

    return bool(optionals.HAS_PYLATEX)


def close(fig) -> None:
    """Qiskit's drawer makes a pyplot figure; close it so a long session does not keep them."""
    import matplotlib.pyplot as plt

    plt.close(fig)


def drawings(bundle: Bundle) -> list[dict]:
    """Per template: name, caption facts and either a PNG data URI or a text drawing."""
    import matplotlib

    out = []
    packed = set(bundle.manifest.get("placement", {}))  # run as their packed copies, drawn as those
    for name, circuit in isa_templates(bundle).items():
        if name in packed:
            continue
        kernel, row, copies = first_row(bundle, name)
        bound = row is not None and len(row) == circuit.num_parameters
        shown = circuit.assign_parameters(row) if bound else circuit
        entry = {"template": name, "kernel": kernel, "bound": bound, "operations": int(shown.size()),
                 "copies": copies, "image": None, "text": None}
        if shown.size() <= MAX_DRAWN_OPERATIONS and can_draw_mpl():
            with matplotlib.rc_context({"font.family": "DejaVu Sans"}):
                fig = shown.draw("mpl", idle_wires=False, fold=28, scale=0.7)
            entry["image"] = png_uri(fig)
            close(fig)
        else:
            lines = str(shown.draw("text", idle_wires=False, fold=110)).splitlines()
            entry["text"] = "\n".join(lines[:TEXT_LINES]) + (f"\n… ({len(lines) - TEXT_LINES} more lines)"
                                                             if len(lines) > TEXT_LINES else "")
        out.append(entry)
    return out
