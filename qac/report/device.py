"""The device's coupling map with the physical qubits each kernel uses, drawn with rustworkx
positions and matplotlib (no Graphviz).

IBM heavy-hex devices (Eagle, Heron) number their qubits row by row: runs of consecutive
indices joined by couplers are the rows, and the qubits between rows are bridges. Placing the
rows by their bridges gives the chip's own picture (every coupler one grid step long); any other
graph falls back to a seeded rustworkx spring layout, and a complete graph to a circle.
"""

from __future__ import annotations

import numpy as np

from qac.report.figures import KERNEL_COLOURS, png_uri, styled


def undirected(edges) -> list[tuple[int, int]]:
    return sorted({(min(a, b), max(a, b)) for a, b in edges if a != b})


def lattice_positions(num_qubits: int, edges: list[tuple[int, int]]) -> dict[int, tuple[float, float]] | None:
    """Row-and-bridge coordinates for a heavy-hex numbering, or None if the graph is not one."""
    neighbours = {q: set() for q in range(num_qubits)}
    for a, b in edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    runs, current = [], [0]
    for q in range(1, num_qubits):
        if q - 1 in neighbours[q]:
            current.append(q)
        else:
            runs.append(current)
            current = [q]
    runs.append(current)
    rows = [r for r in runs if len(r) >= 3]
    if len(rows) < 2:
        return None
    row_of = {q: i for i, r in enumerate(rows) for q in r}
    column = {q: j for r in rows for j, q in enumerate(r)}
    offset = {0: 0}
    bridges = []
    for q in range(num_qubits):
        if q in row_of:
            continue
        ends = sorted((row_of[n], n) for n in neighbours[q] if n in row_of)
        if len(ends) != 2 or ends[1][0] != ends[0][0] + 1 or len(neighbours[q]) != 2:
            return None
        (upper, a), (lower, c) = ends
        if upper not in offset:
            return None
        shift = offset[upper] + column[a] - column[c]
        if offset.setdefault(lower, shift) != shift:
            return None
        bridges.append((q, upper, a))
    if len(offset) != len(rows):
        return None
    positions = {q: (float(offset[row_of[q]] + column[q]), -2.0 * row_of[q]) for q in row_of}
    for q, upper, a in bridges:
        positions[q] = (positions[a][0], -2.0 * upper - 1.0)
    if len(set(positions.values())) != num_qubits:
        return None
    for a, b in edges:  # every coupler one grid step: the picture is faithful
        (xa, ya), (xb, yb) = positions[a], positions[b]
        if abs(xa - xb) + abs(ya - yb) != 1.0:
            return None
    return positions


def graph_positions(num_qubits: int, edges: list[tuple[int, int]]) -> dict[int, tuple[float, float]]:
    import rustworkx as rx

    lattice = lattice_positions(num_qubits, edges)
    if lattice is not None:
        return lattice
    graph = rx.PyGraph()
    graph.add_nodes_from(range(num_qubits))
    graph.add_edges_from_no_data(edges)
    if len(edges) == num_qubits * (num_qubits - 1) // 2:
        layout = rx.circular_layout(graph)
    else:
        layout = rx.spring_layout(graph, seed=1, num_iter=300)
    return {q: (float(layout[q][0]), float(layout[q][1])) for q in range(num_qubits)}


@styled
def coupling_map(num_qubits: int, edges, regions: list[tuple[str, list[int]]], *, layout_edges=None) -> str:
    """The coupling graph; each (label, physical qubits) region in its own colour. ``layout_edges``
    (every coupler, working or not) place the qubits; the ones not in ``edges`` are dotted."""
    edges = undirected(edges)
    every = undirected(layout_edges) if layout_edges else edges
    positions = graph_positions(num_qubits, every)
    xs = np.array([positions[q][0] for q in range(num_qubits)])
    ys = np.array([positions[q][1] for q in range(num_qubits)])
    span_x, span_y = float(np.ptp(xs)) or 1.0, float(np.ptp(ys)) or 1.0
    width = float(np.clip(2.5 + 0.8 * np.sqrt(num_qubits), 4.0, 10.0))  # a 20-qubit chip is not drawn poster-size
    height = float(np.clip(width * span_y / span_x, 3.0, 9.0))
    fig = figure_for(width, height)
    ax = fig.subplots()
    used: dict[int, str] = {}
    for i, (_, qubits) in enumerate(regions):
        for q in qubits:
            used.setdefault(q, KERNEL_COLOURS[i % len(KERNEL_COLOURS)])
    working = set(edges)
    for a, b in every:
        if (a, b) not in working:
            ax.plot([xs[a], xs[b]], [ys[a], ys[b]], color="#e08080", lw=0.9, ls=":", zorder=1)
    for a, b in edges:
        both = a in used and b in used and used[a] == used[b]
        ax.plot([xs[a], xs[b]], [ys[a], ys[b]], color=used[a] if both else "#c8c8c8",
                lw=2.6 if both else 1.0, zorder=1, solid_capstyle="round")
    size = 150 if num_qubits <= 160 else 40
    idle = [q for q in range(num_qubits) if q not in used]
    ax.scatter(xs[idle], ys[idle], s=size, color="#eeeeee", edgecolors="#9a9a9a", linewidths=0.6, zorder=2)
    for i, (label, qubits) in enumerate(regions):
        colour = KERNEL_COLOURS[i % len(KERNEL_COLOURS)]
        ax.scatter(xs[qubits], ys[qubits], s=size * 1.25, color=colour, edgecolors="black", linewidths=0.6,
                   zorder=3, label=label)
    if num_qubits <= 160:
        for q in range(num_qubits):
            ax.annotate(str(q), (xs[q], ys[q]), ha="center", va="center", fontsize=5.2 if q not in used else 5.8,
                        color="white" if q in used else "#555555", zorder=4,
                        fontweight="bold" if q in used else "normal")
    ax.set_aspect("equal")
    ax.axis("off")
    if regions:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=min(3, len(regions)), frameon=False)
    return png_uri(fig)


def figure_for(width: float, height: float):
    from qac.report.figures import figure

    return figure(width, height)
