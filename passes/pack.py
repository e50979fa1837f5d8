"""``pack`` (L4 → L4): several copies of a kernel template on one device (multi-programming).

A packed template is k copies of the logical template, each with its own parameters
(``kNN_theta_MM``, name-derived UUIDs) and its own bits of the ``meas`` register, transpiled
once with an initial layout that puts copy c on region c. Regions are disjoint images of the
single copy's footprint (the physical qubits and couplers its ISA circuit uses), found by
subgraph matching on the coupling graph, scored by the calibrated error of the couplers and
readouts they use, and picked greedily, best first, at least ``gap`` couplers apart
(Das et al., "A case for multi-programming quantum computers", MICRO 2019; Liu & Dou,
"QuCloud", 2021). Rows pack as (P, p) → (⌈P/k⌉, k·p): pair l runs on copy l mod k.

The unpacked template stays in the program (its bindings are the per-pair rows); the packed
one is added as ``<template>_x<k>`` and ``IsaProgram.packing`` (a ``qac.ir.records.Packing`` per
unpacked template; the manifest's ``placement``) says which physical qubits each copy uses.
The ``resources`` analysis then measures the packed template like any other.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from dataclasses import replace as replaced

import numpy as np
from qac.passes.resources import physical_qubits

from qac.errors import CompileError
from qac.ir import CircuitModule, IsaProgram
from qac.ir.pipeline import CompileContext, Pass
from qac.ir.records import Packing
from qac.kernels.qubits import components

MAX_MATCHES = 20000  # subgraph matches examined per template


def footprint(isa) -> tuple[list[int], list[tuple[int, int]]]:
    """Physical qubits an ISA circuit touches and the couplers (undirected) its 2q gates use."""
    qubits, edges = set(), {}
    for inst in isa.data:
        if inst.operation.name == "barrier":
            continue
        where = [isa.find_bit(q).index for q in inst.qubits]
        qubits.update(where)
        if len(where) == 2:
            key = tuple(sorted(where))
            edges[key] = edges.get(key, 0) + 1
    return sorted(qubits), sorted(edges.items())


def coupler_errors(target) -> dict[tuple[int, int], float]:
    """Undirected coupler -> smallest calibrated two-qubit error (usable couplers only)."""
    qiskit_target = target.qiskit_target()
    errors: dict[tuple[int, int], float] = {}
    usable = {tuple(sorted(e)) for e in (target.coupling_edges or ())}
    for name in qiskit_target.operation_names:
        props = qiskit_target[name]
        if props is None:
            continue
        for qargs, p in props.items():
            if qargs is None or len(qargs) != 2:
                continue
            key = tuple(sorted(qargs))
            if key in usable:
                err = p.error if (p is not None and p.error is not None) else 0.01
                errors[key] = min(errors.get(key, 1.0), err)
    return errors


def readout_errors(target) -> dict[int, float]:
    qiskit_target = target.qiskit_target()
    if "measure" not in qiskit_target.operation_names:
        return {}
    return {q[0]: (p.error or 0.0) for q, p in qiskit_target["measure"].items() if q is not None and p is not None}


def find_regions(target, qubits: list[int], edges: list, measured: list[int], *, copies: int | None,
                 gap: int) -> list[dict[int, int]]:
    """Disjoint maps footprint-qubit -> device-qubit, best (lowest error) first."""
    import networkx as nx
    from networkx.algorithms import isomorphism

    errors, readout = coupler_errors(target), readout_errors(target)
    device = nx.Graph()
    device.add_edges_from(errors)
    pattern = nx.Graph()
    pattern.add_nodes_from(qubits)
    pattern.add_edges_from(e for e, _ in edges)
    if not nx.is_connected(pattern):
        raise CompileError("pack: the template's footprint is not connected; run pack after layout on a device target")
    scored, seen = [], set()
    matcher = isomorphism.GraphMatcher(device, pattern)
    for count, match in enumerate(matcher.subgraph_monomorphisms_iter()):
        if count >= MAX_MATCHES:
            break
        image = {p: d for d, p in match.items()}  # footprint qubit -> device qubit
        key = tuple(image[q] for q in qubits)
        if key in seen:
            continue
        seen.add(key)
        cost = sum(uses * -np.log1p(-min(errors[tuple(sorted((image[a], image[b])))], 0.999))
                   for (a, b), uses in edges)
        cost += sum(-np.log1p(-min(readout.get(image[q], 0.0), 0.999)) for q in measured)
        scored.append((cost, key, image))
    scored.sort(key=lambda item: (item[0], item[1]))
    taken: set[int] = set()
    chosen = []
    for _, key, image in scored:
        used = set(image.values())
        blocked = set(used)
        for _ in range(gap):  # keep `gap` couplers between regions (cross-talk on devices)
            blocked |= {n for q in blocked for n in device.neighbors(q)}
        if blocked & taken:
            continue
        chosen.append(image)
        taken |= used
        if copies is not None and len(chosen) == copies:
            break
    return chosen


def copy_parameters(circuit, copy: int) -> dict:
    from qiskit.circuit import Parameter

    renamed = {}
    for p in circuit.parameters:
        name = f"k{copy:02d}_{p.name}"
        renamed[p] = Parameter(name, uuid=uuid.uuid5(uuid.NAMESPACE_URL, f"qac:{name}"))
    return renamed


def packed_logical(logical, copies: int, name: str):
    """k copies of ``logical`` side by side: register-less qubits, one ``meas`` register."""
    from qiskit import ClassicalRegister, QuantumCircuit
    from qiskit.circuit import Qubit

    width, bits = logical.num_qubits, logical.num_clbits
    qubits = [Qubit() for _ in range(width * copies)]
    meas = ClassicalRegister(bits * copies, "meas")
    packed = QuantumCircuit(qubits, meas, name=name)
    for c in range(copies):
        piece = logical.assign_parameters(copy_parameters(logical, c))
        packed.compose(piece, qubits=qubits[c * width:(c + 1) * width],
                       clbits=list(meas)[c * bits:(c + 1) * bits], inplace=True)
    return packed


def interaction_components(isa) -> list[set[int]]:
    """Sets of physical qubits linked by multi-qubit gates (the copies, if they stayed apart)."""
    links = [tuple(isa.find_bit(q).index for q in inst.qubits) for inst in isa.data
             if inst.operation.name != "barrier"]
    return [set(group) for group in components((), links)]


@dataclass(frozen=True)
class Pack(Pass):
    """Place ``copies`` copies of each template on disjoint low-error regions (``auto``: as many as
    fit, at most one per pair). An explicit count is a promise the manifest's pipeline text makes:
    more copies than a template has pairs, or than fit on the device, are refused with the count
    that works, never silently lowered."""

    name = "pack"
    reads = "L4"
    writes = "L4"
    copies: str = field(default="auto")
    gap: int = field(default=1)
    optimization_level: int = field(default=1)

    def __post_init__(self):
        text = str(self.copies)
        if text != "auto" and not (text.isdigit() and int(text) >= 1):
            raise CompileError(f"pack: copies must be 'auto' or a whole number >= 1, not {text!r}; write pack{{copies=auto}}")
        if self.gap < 0:
            raise CompileError(f"pack: gap must be >= 0, not {self.gap}")

    def run(self, module: IsaProgram, context: CompileContext) -> IsaProgram:
        from qiskit.transpiler import generate_preset_pass_manager

        target = context.target
        if target.qiskit_target() is None:
            raise CompileError(f"pack: target '{target.name}' has no coupling map to place copies on; "
                               f"packing is for devices (e.g. ibm_brisbane)")
        pairs_of: dict[str, int] = {}
        for kernel in module.module.plan.kernels:
            name = module.module.bindings[kernel.name].template
            pairs_of[name] = pairs_of.get(name, 0) + len(kernel.pairs)
        isa, templates = dict(module.isa), dict(module.module.templates)
        packing = {}
        for name in sorted(module.isa):
            single = module.isa[name]
            asked = None if self.copies == "auto" else int(self.copies)
            pairs = pairs_of.get(name, 0)
            if asked is not None and pairs and asked > pairs:  # the pipeline text must say what ran
                raise CompileError(f"pack: copies={asked} but template {name} has {pairs} pair"
                                   f"{'s' if pairs != 1 else ''} to run; use pack{{copies={pairs}}} "
                                   f"or pack{{copies=auto}}")
            wanted = min(asked or pairs, pairs) if pairs else asked
            if not wanted or wanted < 2:
                continue
            qubits, edges = footprint(single)
            measured = sorted({single.find_bit(i.qubits[0]).index for i in single.data if i.operation.name == "measure"})
            regions = find_regions(target, qubits, edges, measured, copies=wanted, gap=self.gap)
            if asked is not None and len(regions) < asked:
                fits = (f"use pack{{copies={len(regions)}}} or pack{{copies=auto}}" if len(regions) >= 2 else
                        "drop the pack pass (one copy is no packing)")
                raise CompileError(f"pack: {asked} copies of {name} do not fit on '{target.name}': qac found room "
                                   f"for {len(regions)} (disjoint regions {self.gap} coupler"
                                   f"{'s' if self.gap != 1 else ''} apart); {fits}")
            if len(regions) < 2:
                continue
            k = len(regions)
            logical = module.module.templates[name].circuit
            layout_of_single = physical_qubits(single)  # logical qubit -> physical of the single copy
            initial = [region[p] for region in regions for p in layout_of_single]
            packed_name = f"{name}_x{k}"
            circuit = packed_logical(logical, k, packed_name)
            manager = generate_preset_pass_manager(optimization_level=self.optimization_level,
                                                   seed_transpiler=context.seed, initial_layout=initial,
                                                   **target.transpile_kwargs())
            try:
                packed = manager.run(circuit)
            except Exception as exc:
                raise CompileError(f"pack: cannot transpile {k} copies of {name} on '{target.name}': {exc}; "
                                   f"use pack{{copies=N}} with fewer copies") from None
            width = logical.num_qubits
            linked = interaction_components(packed)
            copy_qubits = []
            for c in range(k):
                start = set(initial[c * width:(c + 1) * width])
                mine = [g for g in linked if g & start]
                union = set().union(*mine) if mine else start
                copy_qubits.append(sorted(union))
            flat = [q for qs in copy_qubits for q in qs]
            if len(flat) != len(set(flat)):
                raise CompileError(f"pack: routing made copies of {name} share qubits on '{target.name}'; "
                                   f"use pack{{copies=N,gap=2}} with fewer copies")
            templates[packed_name] = replaced(module.module.templates[name], name=packed_name, circuit=circuit)
            isa[packed_name] = packed
            packing[name] = Packing(
                template=packed_name, copies=k, bits=logical.num_clbits, parameters=logical.num_parameters,
                regions=tuple(tuple(qs) for qs in copy_qubits),
                initial_layouts=tuple(tuple(initial[c * width:(c + 1) * width]) for c in range(k)),
                pairs=pairs_of.get(name, 0), circuits=-(-pairs_of.get(name, 0) // k))
        new_module = CircuitModule(module.module.plan, templates, module.module.bindings)
        return replaced(module, module=new_module, isa=isa, packing=packing)
