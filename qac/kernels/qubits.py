"""Which qubits of a circuit interact: connected components over the qubits that gates link.

Used on both sides of compilation: ``pack`` checks that the copies of a packed template stayed
apart, and the batched simulator splits a circuit into independent components.
"""

from __future__ import annotations


def components(nodes, links) -> list[list[int]]:
    """The connected components of ``nodes`` and of every node a link names (a link: the nodes of
    one gate), each in first-seen order, the components sorted (union-find with path halving)."""
    parent = {q: q for q in nodes}

    def root(q):
        parent.setdefault(q, q)
        while parent[q] != q:
            parent[q] = parent[parent[q]]
            q = parent[q]
        return q

    for link in links:
        root(link[0])
        for q in link[1:]:
            parent[root(q)] = root(link[0])
    groups: dict[int, list[int]] = {}
    for q in list(parent):
        groups.setdefault(root(q), []).append(q)
    return sorted(groups.values())
