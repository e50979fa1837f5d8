"""Ideal runs from the closed form: binomial draws from each row's outcome law, spot-checked.

Every qac estimator's f(outcome) takes two values (±1, or 1/0 for compute-uncompute), and its
ideal mean is a closed form of the pair's inner product c = ⟨â|b̂⟩: c for the signed estimators
(interference, hadamard), s = ((1 + c)/2)² for the unsigned ones (swap, destructive_swap,
compute_uncompute, which load (x̂, 1)/√2). So P(f = f_hi) = (mean − f_lo)/(f_hi − f_lo) per row,
and an ideal run draws Binomial(shots, P) per row, vectorised over rows — instead of simulating
every circuit. With one measured bit (interference, hadamard, swap, unary compute-uncompute)
that is the circuit's whole outcome law; with several (destructive_swap, binary
compute-uncompute) the draws land on the lowest outcome of each f value: decoding reads f only.

Trusted only where shown, twice:

- **proof, once per (circuit, template, d)** (first use, cached by the circuit's structure digest): the
  level-neutral binder (``qac.kernels.binding``) binds ``PROOF_PAIRS`` seeded random unit pairs plus
  c = 1, −1 and 0 into the very ISA circuit the rows run on (a packed template's copy circuit),
  the batched simulator gives their outcome probabilities, and P(f = f_hi) must equal the closed
  form to ``TOLERANCE``; if not (or the simulator cannot run the circuit) the template is
  simulated as before and the run says why;
- **spot check, every run**: ``CHECK_ROWS`` seeded rows of the run's own bindings go through the
  simulator and must match their closed form to ``TOLERANCE``, else ``InternalError``.

Random streams (``qac.seeds``): ``closed_form`` (draws, by stage seed and PUB index: one
generator a PUB, rows in order, so counts never depend on chunking or workers, and a PUB's
draws on its own rows only),
``closed_form_check`` (which rows are checked) and ``closed_form_proof`` (the proof's vectors).
"""

from __future__ import annotations

import numpy as np

from qac import seeds
from qac.errors import InternalError

TOLERANCE = 1e-10
CHECK_ROWS = 32
PROOF_PAIRS = 13  # random pairs, plus c = 1, −1, 0: 16 rows
#: proofs by (circuit structure digest, estimator, encoding, tree, d, f values) → (ok, why): every
#: compile's copy of a routed template shares its proof (a model forward compiles once a layer)
_PROOFS: dict = {}
MAX_PROOFS = 256


def two_values(outcome_values: np.ndarray) -> tuple[float, float] | None:
    """(f_hi, f_lo) when f takes exactly two values, else None."""
    distinct = np.unique(outcome_values)
    return (float(distinct[1]), float(distinct[0])) if len(distinct) == 2 else None


def inner_products(lhs_units: np.ndarray, rhs_units: np.ndarray, pairs: np.ndarray, d: int,
                   negate: bool = False) -> np.ndarray:
    """c = ⟨â_i|b̂_j⟩ over the first d lanes for each pair (i, j), row by row (no BLAS sum, so the
    bits do not depend on how the pairs are cut), clipped to [−1, 1]; −c for sign partners."""
    out = np.empty(len(pairs))
    for start in range(0, len(pairs), 8192):
        p = pairs[start:start + 8192]
        out[start:start + len(p)] = np.einsum("ij,ij->i", lhs_units[p[:, 0], :d], rhs_units[p[:, 1], :d])
    np.clip(out, -1.0, 1.0, out=out)
    return -out if negate else out


def inner_products_of(kernels: list, negate: bool = False) -> np.ndarray:
    """c = ⟨â_i|b̂_j⟩ for every pair of several kernels, concatenated in order, clipped to
    [−1, 1] (−c for sign partners): each kernel's whole Gram matrix â·b̂ᵀ over its first d lanes in
    one product (kernels of one shape stacked: a model forward has hundreds), read at its pairs.
    A kernel's product has the same shape whatever else the run holds, so its bits do too."""
    out = []
    groups: dict = {}
    for n, k in enumerate(kernels):
        groups.setdefault((k.lhs_units.shape[0], k.rhs_units.shape[0], k.d), []).append(n)
    gram: list = [None] * len(kernels)
    for (_, _, d), members in groups.items():
        lhs = np.stack([kernels[n].lhs_units[:, :d] for n in members])
        rhs = np.stack([kernels[n].rhs_units[:, :d] for n in members])
        for n, g in zip(members, lhs @ rhs.swapaxes(1, 2)):
            gram[n] = g
    for k, g in zip(kernels, gram):
        out.append(g[k.pairs[:, 0], k.pairs[:, 1]])
    c = np.concatenate(out) if out else np.zeros(0)
    np.clip(c, -1.0, 1.0, out=c)
    return -c if negate else c


def high_probability(c: np.ndarray, signed: bool, outcome_values: np.ndarray) -> np.ndarray:
    """P(f = f_hi) per row from the inner products (the module docstring's closed forms)."""
    hi, lo = two_values(outcome_values)
    mean = c if signed else ((1.0 + c) / 2.0) ** 2
    return np.clip((mean - lo) / (hi - lo), 0.0, 1.0)


def simulated_high(circuit, values: np.ndarray, outcome_values: np.ndarray) -> np.ndarray:
    """P(f = f_hi) per row from the batched simulator's outcome probabilities of ``circuit``."""
    from qac.simulator import probabilities

    hi, _ = two_values(outcome_values)
    return probabilities(circuit, values) @ (outcome_values == hi).astype(float)


def prove(circuit, template, d: int) -> tuple[bool, str]:
    """Whether ``circuit`` (the template's ISA circuit or one copy of it) computes the closed form
    of its estimator for every pair: checked on seeded random pairs and c = ±1, 0 (cached)."""
    from qac.simulator import circuit_key

    decoding = template.decoding
    key = (circuit_key(circuit), template.estimator, template.encoding, template.tree, int(d),
           tuple(decoding.outcome_values.tolist()))
    if key not in _PROOFS:
        _PROOFS[key] = _prove(circuit, template, d)
        while len(_PROOFS) > MAX_PROOFS:
            _PROOFS.pop(next(iter(_PROOFS)))
    return _PROOFS[key]


def _prove(circuit, template, d: int) -> tuple[bool, str]:
    from qac.kernels import binding
    from qac.simulator import supports

    decoding = template.decoding
    if two_values(decoding.outcome_values) is None:
        return False, "its f(outcome) takes more than two values"
    ok, why = supports(circuit, None)
    if not ok:
        return False, f"the batched simulator cannot check it ({why})"
    rng = seeds.generator(0, "closed_form_proof", d)
    a = rng.standard_normal((PROOF_PAIRS + 3, d))  # the binder reads the first d lanes
    b = rng.standard_normal((PROOF_PAIRS + 3, d))
    b[-3], b[-2] = a[-3], -a[-2]  # c = 1, c = −1
    if d > 1:
        b[-1] -= (b[-1] @ a[-1]) / (a[-1] @ a[-1]) * a[-1]  # c = 0
    else:  # one lane: no orthogonal pair
        a, b = a[:-1], b[:-1]
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    pairs = np.stack([np.arange(len(a))] * 2, axis=1)
    values = binding.bind_pairs(template.estimator, template.encoding, template.tree, d, a, b, pairs)
    expected = high_probability(inner_products(a, b, pairs, d), decoding.signed, decoding.outcome_values)
    deviation = float(np.max(np.abs(simulated_high(circuit, values, decoding.outcome_values) - expected)))
    if not deviation <= TOLERANCE:  # NaN fails too
        return False, f"its simulated probabilities differ from the closed form by {deviation:.1e} on random pairs"
    return True, ""


def outcome_indices(outcome_values: np.ndarray) -> tuple[int, int]:
    """The outcomes the draws land on: the lowest with f = f_hi and the lowest with f = f_lo
    (kept per f table: every PUB of a template asks)."""
    key = outcome_values.tobytes()
    if key not in _INDICES:
        hi, lo = two_values(outcome_values)
        _INDICES[key] = int(np.flatnonzero(outcome_values == hi)[0]), int(np.flatnonzero(outcome_values == lo)[0])
    return _INDICES[key]


_INDICES: dict = {}


def draw(p_high: np.ndarray, shots: np.ndarray, outcome_values: np.ndarray, generator) -> np.ndarray:
    """Counts (rows, outcomes): Binomial(shots, P(f = f_hi)) on f_hi's outcome, the rest on f_lo's."""
    high = generator.binomial(shots, p_high).astype(np.int64)
    counts = np.zeros((len(high), len(outcome_values)), dtype=np.int64)
    hi, lo = outcome_indices(outcome_values)
    counts[:, hi] = high
    counts[:, lo] = shots - high
    return counts


def spot_check(checks: list, seed: int) -> dict:
    """``checks``: per closed-form PUB, (circuit, values, P(f = f_hi), outcome values). Simulates
    ``CHECK_ROWS`` seeded rows of them all and compares; InternalError beyond ``TOLERANCE``."""
    sizes = np.array([len(v) for _, v, _, _ in checks], dtype=np.int64)
    total = int(sizes.sum())
    if not total:
        return {"rows_checked": 0, "max_deviation": 0.0}
    rng = seeds.generator(seed, "closed_form_check")
    chosen = np.sort(rng.choice(total, size=min(CHECK_ROWS, total), replace=False))
    starts = np.concatenate([[0], np.cumsum(sizes)])
    groups: dict = {}  # PUBs on one circuit (heads sharing a template) are simulated in one call
    requests = []
    for k, (circuit, values, p_high, outcome_values) in enumerate(checks):
        rows = chosen[(chosen >= starts[k]) & (chosen < starts[k + 1])] - starts[k]
        if len(rows):
            group = groups.setdefault(id(circuit), [circuit, outcome_values, [], [], []])
            group[2].append(len(requests))
            requests.append((values, rows))
            group[3].append(p_high[rows])
            group[4] += [(k, int(r)) for r in rows]
    bound = _take(requests)
    for group in groups.values():
        group[2] = [bound[n] for n in group[2]]
    worst = 0.0
    for circuit, outcome_values, values, expected, where in groups.values():
        deviation = np.abs(simulated_high(circuit, np.concatenate(values), outcome_values) - np.concatenate(expected))
        if not deviation.max() <= TOLERANCE:  # NaN fails too
            bad = [where[i] for i in np.flatnonzero(~(deviation <= TOLERANCE))]
            raise InternalError(f"closed form and circuit disagree on {circuit.name!r}: (PUB, row) {bad} differ by up "
                                f"to {deviation.max():.2e} (> {TOLERANCE:g}); run with engine='batched' to simulate")
        worst = max(worst, float(deviation.max()))
    return {"rows_checked": int(len(chosen)), "max_deviation": worst}


def _take(requests: list) -> list[np.ndarray]:
    """``values[rows]`` per request; rows bound on demand are bound together (``take_many``)."""
    if requests:
        kind = type(requests[0][0])
        many = getattr(kind, "take_many", None)
        if many is not None and all(type(v) is kind for v, _ in requests):
            return many(requests)
    return [values[rows] for values, rows in requests]


def describe(paths: list[dict], engine_name: str) -> tuple[str, dict]:
    """(``Result.engine_path``, ``Result.engine_metadata``) from the plans' ``paths`` of one run."""
    closed = sum(p["closed_form_rows"] for p in paths)
    simulated = sum(p["engine_rows"] for p in paths)
    checked = sum(p["rows_checked"] for p in paths)
    worst = max((p["max_deviation"] for p in paths), default=0.0)
    ran = [p["engine_metadata"] for p in paths if p["engine_metadata"] is not None]
    metadata = dict(ran[-1]) if ran else {"engine": engine_name}
    unproven = {k: v for p in paths for k, v in p["not_proven"].items()}
    if unproven:
        metadata["closed_form_not_proven"] = unproven
    if not closed:
        why = "; ".join(f"{k}: {v}" for k, v in sorted(unproven.items()))
        engines = ", ".join(metadata.get("engines") or [metadata.get("engine") or engine_name])
        return (f"simulated ({engines})" + (f"; closed form not proven — {why}" if why else "")), metadata
    used = [e for e in metadata.get("engines", [engine_name] if simulated else []) if e != "closed form"]
    metadata["engines"] = ["closed form"] + (used if simulated else [])
    metadata["closed_form"] = {"rows": closed, "rows_checked": checked, "max_deviation": worst,
                               "tolerance": TOLERANCE, "simulated_rows": simulated}
    path = (f"closed form: {closed} rows drawn from each row's P(f) of ⟨â|b̂⟩ (template proven on random pairs); "
            f"{checked} rows checked against the batched simulator, max |ΔP| {worst:.1e} ≤ {TOLERANCE:g}")
    if simulated:
        path += f"; {simulated} rows simulated ({', '.join(used) or engine_name})"
    return path, metadata
