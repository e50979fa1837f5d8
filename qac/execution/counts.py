"""``decode_counts``: counts from any sampler → the attention output with error bars.

The counts are one entry per PUB of ``CompiledAttention.pubs()`` (one PUB per kernel; a packed
template's rows hold k pairs, pair l of a kernel on copy l mod k), in any of these forms:

- a (rows, 2^bits) array of counts, bits = the PUB circuit's ``meas`` register;
- a Qiskit ``BitArray`` of shape (rows,), or a ``SamplerPubResult`` holding one (``data.meas``);
- a list of one mapping per row, outcome → count; outcomes as bit strings ('0110', clbit 0
  rightmost, spaces allowed), hex strings ('0x6') or integers.

They go through the decoder and the reconstruction every sampled run uses
(``qac/execution/estimates.py``, ``run.sampled_result``): the counts fill the data blocks of
an unmitigated ``RunPlan``. No calibration rows ride along with ``pubs()``, so the result is
*unmitigated* (``Result.mitigated`` is False): on a noisy sampler it carries the noise's bias.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from qac.errors import ExecutionError
from qac.execution.aer_engine import register_slice
from qac.execution.estimates import estimates
from qac.execution.plan import RunPlan
from qac.ir.packing import copies, pub_circuit, template_of
from qac.kernels.decode import outcome_counts


def _bit_array(entry):
    """The BitArray of a SamplerPubResult / DataBin / BitArray, or None."""
    data = getattr(entry, "data", None)
    if data is not None and not isinstance(entry, np.ndarray):
        entry = getattr(data, "meas", None)
        if entry is None:  # a DataBin with one register under another name
            values = [v for v in (getattr(data, k) for k in data) if hasattr(v, "slice_bits")] \
                if hasattr(data, "__iter__") else []
            entry = values[0] if len(values) == 1 else None
    return entry if hasattr(entry, "slice_bits") and hasattr(entry, "num_shots") else None


def _outcome(key, label: str) -> int:
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return int(key)
    if isinstance(key, str):
        text = key.replace(" ", "")
        try:
            return int(text, 16) if text.lower().startswith("0x") else int(text, 2)
        except ValueError:
            pass
    raise ExecutionError(f"{label}: outcome {key!r} is not a bit string, hex string or integer; "
                         f"give counts as {{'0110': 12, ...}}")


def per_copy_counts(entry, rows: int, k: int, bits: int, label: str) -> np.ndarray:
    """One PUB's counts as (rows, k, 2^bits): each copy's bits marginalised out of the packed ones."""
    width = k * bits
    out = np.zeros((rows, k, 1 << bits), dtype=np.int64)
    array = _bit_array(entry)
    if array is not None:
        if tuple(array.shape) != (rows,) or array.num_bits != width:
            raise ExecutionError(f"{label}: a BitArray of shape {tuple(array.shape)} with {array.num_bits} bits, "
                                 f"but the PUB has {rows} rows of {width} measured bits; sample prog.pubs() as "
                                 f"they are")
        for c in range(k):
            out[:, c] = outcome_counts(array.slice_bits(list(range(c * bits, (c + 1) * bits))).array, bits)
        return out
    if isinstance(entry, np.ndarray) or (isinstance(entry, (list, tuple)) and entry and
                                         not isinstance(entry[0], Mapping)):
        dense = np.asarray(entry)
        if dense.shape != (rows, 1 << width):
            raise ExecutionError(f"{label}: counts of shape {dense.shape}, but the PUB has {rows} rows of "
                                 f"2^{width} outcomes, so give ({rows}, {1 << width})")
        if dense.dtype.kind not in "iuf" or not np.all(np.isfinite(dense)) or np.any(dense < 0) \
                or np.any(dense != np.round(dense)):
            raise ExecutionError(f"{label}: counts must be whole numbers ≥ 0")
        dense = dense.astype(np.int64)
        for c in range(k):
            out[:, c] = dense.reshape(rows, 1 << (width - (c + 1) * bits), 1 << bits, 1 << (c * bits)).sum(axis=(1, 3))
        return out
    if isinstance(entry, Mapping) and rows == 1:
        entry = [entry]
    if not isinstance(entry, (list, tuple)) or len(entry) != rows or not all(isinstance(r, Mapping) for r in entry):
        raise ExecutionError(f"{label}: expected a ({rows}, {1 << width}) counts array, a BitArray, a "
                             f"SamplerPubResult or a list of {rows} mappings outcome → count, not "
                             f"{type(entry).__name__}")
    mask = (1 << bits) - 1
    for r, row in enumerate(entry):
        for key, n in row.items():
            value = _outcome(key, label)
            if not 0 <= value < 1 << width:
                raise ExecutionError(f"{label}: outcome {key!r} does not fit the PUB's {width} measured bits")
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
                raise ExecutionError(f"{label}: count {n!r} of outcome {key!r} is not a whole number ≥ 0")
            for c in range(k):
                out[r, c, (value >> (c * bits)) & mask] += int(n)
    return out


def decode_counts(compiled, counts, *, noise: bool = False, seed: int | None = None):
    """See the module docstring; ``noise`` only records whether the sampler was noisy; ``seed``
    (default: the program's, as ``run``'s) is the run seed the counts stand for: error bars drawn
    by resampling use it, so they equal ``run(seed=seed)``'s for the same samples."""
    from qac.execution.run import sampled_result

    program = compiled.program
    kernels = list(compiled.kernels)
    counts = list(counts)
    if len(counts) != len(kernels):
        raise ExecutionError(f"got counts for {len(counts)} PUBs, but the program has {len(kernels)} "
                             f"(one per kernel of prog.pubs(): {', '.join(k.name for k in kernels)})")
    plan = RunPlan(program, compiled.execution_circuits, mitigation=False)
    circuits = shots_used = 0
    for kernel, entry in zip(kernels, counts):
        name = template_of(program, kernel)
        k = copies(program, name)
        rows = -(-len(kernel.pairs) // k)
        _, width = register_slice(pub_circuit(program, name))
        label = f"counts of PUB {kernels.index(kernel)} (kernel {kernel.name})"
        if width % k:
            raise ExecutionError(f"{label}: the PUB measures {width} bits, not a multiple of its {k} copies")
        table = per_copy_counts(entry, rows, k, width // k, label)
        totals = table.sum(axis=2)
        if rows and np.any(totals == 0):
            raise ExecutionError(f"{label}: a row has no shots; every row of the PUB must be sampled")
        circuits += rows
        shots_used += int(totals[:, 0].sum()) if rows else 0
        if not len(kernel.pairs):
            continue
        block = plan.data_blocks(kernel.name)[0]
        block.copy = np.arange(len(kernel.pairs)) % k  # pubs() puts pair l on copy l mod k
        block.counts = table.reshape(rows * k, -1)[:len(kernel.pairs)]
        block.shots = block.counts.sum(axis=1)
    estimated, report = estimates(plan)
    per_pair = {int(s) for e in estimated.values() if e is not None for s in e.shots}
    return sampled_result(compiled, estimated, report, shots=per_pair.pop() if len(per_pair) == 1 else None,
                          noise=noise, mitigation=False, circuits=circuits, shots_used=shots_used, precision={},
                          seed=compiled.spec.seed if seed is None else seed, engine="counts")
