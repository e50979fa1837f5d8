"""What a run executes: blocks of bound rows per template and copy, and the shots each collects.

Per kernel its data rows (and, when the estimator is odd and the run mitigated, the sign
partners' rows); per template and copy its calibration rows and the two readout circuits.
Every row comes from the compiled program (``Binding.values``/``partner_values``,
``Template.calibration``); the plan only decides which copy runs which row and with how many
shots, and hands PUBs to an engine. A data block reads its kernel's table only when an engine
runs its rows: rows drawn from the closed form bind just the spot-checked ones
(``Binding.rows``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qac.errors import InternalError
from qac.ir.packing import copies, template_of


@dataclass
class Block:
    """Rows of one template run on one copy, with the counts they collect over stages."""

    template: str
    copy: np.ndarray  # (n,) copy index of each row
    values: np.ndarray | None  # (n, num_parameters); None for data rows: read from ``binding``
    shots: np.ndarray  # (n,) shots collected so far
    counts: np.ndarray | None = None  # (n, 2^bits)
    circuit: object = None  # a fixed circuit (readout calibration) instead of the template's rows
    kernel: object = None  # the kernel whose pairs these data rows are (None: calibration, readout)
    partner: bool = False  # the sign partners' rows (â, −b̂)
    p_high: np.ndarray | None = None  # closed form P(f = f_hi) per row, once an ideal run asked
    binding: object = None  # the kernel's ``qac.ir.Binding`` (data and partner rows)

    def table(self) -> np.ndarray:
        """Every row's parameters (a data block's kernel table, bound on first read)."""
        if self.binding is None:
            return self.values
        return self.binding.partner_values if self.partner else self.binding.values

    def rows(self, index: np.ndarray) -> np.ndarray:
        """The rows ``index`` only (a data block binds just those if its table is not held)."""
        if self.binding is None:
            return self.values[index]
        return self.binding.rows(index, partner=self.partner)


class _Rows:
    """``rows[k]`` → the block's rows ``sub[k]``, bound on demand: what a spot check reads."""

    def __init__(self, block: Block, sub: np.ndarray):
        self.block, self.sub = block, sub

    def __len__(self) -> int:
        return len(self.sub)

    def __getitem__(self, index) -> np.ndarray:
        return self.block.rows(self.sub[index])

    @staticmethod
    def take_many(requests: list) -> list[np.ndarray]:
        """``[rows[index] for rows, index in requests]``, every request whose kernel table is not
        held bound in one call per template (``PairBinder.bind_many``)."""
        from qac.kernels.binding import PairBinder

        out: list = [None] * len(requests)
        lazy = []
        for n, (rows, index) in enumerate(requests):
            block = rows.block
            binder = block.binding.binder(block.partner) if block.binding is not None else None
            if isinstance(binder, PairBinder):
                lazy.append((n, binder, rows.sub[index]))
            else:
                out[n] = rows[index]
        for (n, _, _), bound in zip(lazy, PairBinder.bind_many([(b, i) for _, b, i in lazy])):
            out[n] = bound
        return out


@dataclass
class TemplateRuns:
    """One template's share of a run: its decoding, copies and calibration blocks."""

    copies: int
    symmetrise: bool  # sign partners run beside every row (odd estimator, mitigated run)
    values: np.ndarray  # f(outcome)
    signed: bool
    calibration: object = None  # qac.ir.Calibration
    cal_blocks: list | None = None  # per copy: [rows, negated rows]
    readout: list | None = None  # per copy: [prepare-0 block, prepare-1 block]
    next: int = 0  # the copy the next kernel's first pair runs on


def _block(template, copy, values, circuit=None, kernel=None, partner=False, binding=None) -> Block:
    if values is None and binding is None:
        values = np.zeros((1, 0))
    return Block(template, copy, values, np.zeros(len(copy), dtype=np.int64), circuit=circuit, kernel=kernel,
                 partner=partner, binding=binding)


def rows_of(table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``table[rows]`` as a view when ``rows`` is evenly spaced (all rows, or every k-th for
    k copies: what a one-level stage asks for), so a run does not copy its bindings tables."""
    if len(rows) > 1:
        step = int(rows[1] - rows[0])
        if step > 0 and np.array_equal(rows, np.arange(rows[0], rows[0] + step * len(rows), step)):
            return table[rows[0]:rows[-1] + 1:step]
    return table[rows]


def _levels(extra: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(shots, rows asking for them) per distinct positive entry of ``extra``, in increasing order
    (one level for every row is the common case: no sort)."""
    if len(extra) and extra[0] > 0 and (extra == extra[0]).all():
        return [(int(extra[0]), np.arange(len(extra)))]
    return [(int(level), np.flatnonzero(extra == level)) for level in np.unique(extra[extra > 0])]


def _copies(copy: np.ndarray, rows: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(copy, its rows) per distinct copy of ``rows``, in increasing order."""
    picked = copy[rows]
    if len(picked) and (picked == picked[0]).all():
        return [(int(picked[0]), rows)]
    return [(int(c), rows[picked == c]) for c in np.unique(picked)]


class RunPlan:
    """Everything one run executes, and the counts collected so far."""

    def __init__(self, program, circuits, *, mitigation: bool):
        self.program, self.circuits, self.mitigation = program, circuits, mitigation
        self.stages, self.tally = 0, {}
        #: how the rows ran: closed-form and simulated rows, the spot checks, unproven templates
        self.paths: dict = {"closed_form_rows": 0, "engine_rows": 0, "rows_checked": 0, "max_deviation": 0.0,
                            "not_proven": {}, "engine_metadata": None}
        self.templates: dict[str, TemplateRuns] = {}
        self.kernels: dict[str, dict] = {}
        module = program.module
        for kernel in module.plan.kernels:
            if not len(kernel.pairs):
                continue
            name = template_of(program, kernel)
            if name not in self.templates:
                self.templates[name] = self._template_runs(name)
            info = self.templates[name]
            count = len(kernel.pairs)
            copy = (info.next + np.arange(count)) % info.copies
            info.next += count
            binding = module.bindings[kernel.name]
            sides = (False, True) if info.symmetrise else (False,)
            self.kernels[kernel.name] = {"template": name, "blocks": [
                _block(name, copy, None, kernel=kernel, partner=side, binding=binding) for side in sides]}

    def _template_runs(self, name: str) -> TemplateRuns:
        template = self.program.module.templates[name]
        decoding = template.decoding
        count = copies(self.program, name)
        info = TemplateRuns(count, self.mitigation and decoding.odd, decoding.outcome_values, decoding.signed)
        if self.mitigation:
            cal = template.calibration
            if cal is None:
                raise InternalError(f"template {name} has data pairs but no calibration rows")
            rows = len(cal.values)
            info.calibration = cal
            info.cal_blocks = [[_block(name, np.full(rows, c), v) for v in (cal.values, cal.negated) if v is not None]
                               for c in range(count)]
            info.readout = [[_block(name, np.array([c]), None, circuit=r) for r in self.circuits.readout(name, c)]
                            for c in range(count)]
        return info

    def data_blocks(self, kernel: str) -> list[Block]:
        return self.kernels[kernel]["blocks"]

    def calibration_blocks(self) -> list[Block]:
        out = []
        for info in self.templates.values():
            for per_copy in info.cal_blocks or []:
                out += per_copy
            for per_copy in info.readout or []:
                out += per_copy
        return out

    def run(self, requests: list[tuple[Block, np.ndarray]], *, engine, seed: int, noise_model) -> None:
        """Run the extra shots asked for each block row (0 = skip), in one job; add the counts.

        Ideal unmitigated runs on an engine that allows it (``auto``: ``closed_form = True``) draw
        the data rows of proven templates from their closed form (``qac.execution.closed_form``)
        and check a seeded subset against the simulator; everything else goes to the engine."""
        closed_ok = noise_model is None and not self.mitigation and getattr(engine, "closed_form", False)
        entries = []  # (block, rows, circuit, values, shots, closed?)
        for block, extra in requests:
            for level, rows in _levels(extra):
                for copy, sub in _copies(block.copy, rows):
                    circuit = block.circuit if block.circuit is not None else self.circuits.circuit(block.template,
                                                                                                    int(copy))
                    closed = closed_ok and self._proven(block, circuit)
                    if block.circuit is not None:
                        values = np.zeros((len(sub), 0))
                    else:  # closed-form rows bind only what the spot check reads
                        values = _Rows(block, sub) if closed else rows_of(block.table(), sub)
                    entries.append((block, sub, circuit, values, int(level), closed))
        self.stages += 1
        pubs = [(circuit, values, level) for _, _, circuit, values, level, closed in entries if not closed]
        simulated = iter(engine.counts(pubs, seed=seed, noise_model=noise_model) if pubs else ())
        if pubs:
            self.paths["engine_metadata"] = dict(getattr(engine, "metadata", None) or {})
            self.paths["engine_rows"] += sum(len(v) for _, v, _ in pubs)
        drawn = iter(self._closed_counts([e for e in entries if e[5]], seed))
        for block, sub, circuit, _, level, closed in entries:
            counts = next(drawn if closed else simulated)
            if block.counts is None and len(sub) == len(block.copy):
                # the first stage ran every row in order: keep the engine's table, not a copy (every
                # engine returns fresh arrays its caller owns; later stages add into this one)
                block.counts = np.asarray(counts, dtype=np.int64)
            else:
                if block.counts is None:
                    block.counts = np.zeros((len(block.copy), counts.shape[1]), dtype=np.int64)
                block.counts[sub] += counts
            block.shots[sub] += counts.sum(axis=1)
            # a packed device circuit carries one row of every copy: count rows per copy, take the max
            kind = "rows" if block.circuit is None else block.circuit.name.rsplit("_", 1)[-1]
            tally = self.tally.setdefault((self.stages, block.template, kind, level), {})
            copy = int(block.copy[sub[0]])
            tally[copy] = tally.get(copy, 0) + len(sub)

    def _proven(self, block: Block, circuit) -> bool:
        """Whether ``block``'s rows may be drawn from the closed form on ``circuit`` (data rows of a
        template proven on that circuit; ``closed_form.prove``, cached)."""
        if block.kernel is None:
            return False
        from qac.execution import closed_form

        ok, why = closed_form.prove(circuit, self.program.module.templates[block.template], block.kernel.d)
        if not ok:
            self.paths["not_proven"][block.template] = why
        return ok

    def _closed_counts(self, entries: list, seed: int) -> list[np.ndarray]:
        """Counts of the closed-form entries: P(f = f_hi) of every block not yet asked (all blocks
        of one template and side at once: a model forward has hundreds), the spot check, then one
        generator a PUB."""
        if not entries:
            return []
        from qac import seeds
        from qac.execution import closed_form

        self._closed_probabilities([e[0] for e in entries])
        checks = [(circuit, values, block.p_high[sub], self.templates[block.template].values)
                  for block, sub, circuit, values, _, _ in entries]
        report = closed_form.spot_check(checks, seed)
        self.paths["rows_checked"] += report["rows_checked"]
        self.paths["max_deviation"] = max(self.paths["max_deviation"], report["max_deviation"])
        self.paths["closed_form_rows"] += sum(len(e[1]) for e in entries)
        # one generator a PUB: a PUB's draws depend on its own rows only (rows in order), so a
        # causal model's past positions never see its future tokens' probabilities
        return [closed_form.draw(p_high, np.full(len(p_high), level, dtype=np.int64), values,
                                 seeds.generator(seed, "closed_form", k))
                for k, ((_, _, _, _, level, _), (_, _, p_high, values)) in enumerate(zip(entries, checks))]

    def _closed_probabilities(self, blocks: list[Block]) -> None:
        """Set ``p_high`` on the blocks that lack it: the inner products of every block of one
        template and side in one pass (row by row, so the same bits as one block at a time)."""
        from qac.execution import closed_form

        groups: dict = {}
        for block in blocks:
            if block.p_high is None and id(block) not in groups.get((block.template, block.partner), {}):
                groups.setdefault((block.template, block.partner), {})[id(block)] = block
        for (template, partner), members in groups.items():
            members = list(members.values())
            c = closed_form.inner_products_of([b.kernel for b in members], negate=partner)
            info = self.templates[template]
            p_high = closed_form.high_probability(c, info.signed, info.values)
            edges = np.cumsum([0] + [len(b.kernel.pairs) for b in members])
            for block, a, b in zip(members, edges, edges[1:]):
                block.p_high = p_high[a:b]

    def device_cost(self) -> tuple[int, int]:
        """(circuits, shots) a device would run: packed rows count once."""
        circuits = shots = 0
        for (_, _, _, level), per_copy in self.tally.items():
            rows = max(per_copy.values())
            circuits += rows
            shots += rows * level
        return circuits, shots
