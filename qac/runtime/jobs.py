"""What a device accepts, and the jobs a PUB list becomes.

Before anything is submitted, every circuit is checked against the backend's ``Target`` (its
ISA: operation names on the qubits they act on) and against the job limits, and the PUB list
is cut into jobs. IBM's job limits (https://quantum.cloud.ibm.com/docs/guides/job-limits) are
per job: at most 10 million executions (circuits × shots) for a Sampler job. The older
``backend.configuration()`` fields ``max_experiments`` and ``max_shots`` are still reported by
the fake backends (300 and 100,000 on ibm_fez); qac respects them too, which costs little and
keeps a run inside both the old and the new rules.

A job is a list of slices ``(pub, start, stop)`` of PUB rows, all with the same shots (the
executor Sampler requires one shot count per job). A PUB whose shots exceed ``max_shots`` runs
as several parts whose shots add up to its own; its counts are the sum of the parts.
"""

from __future__ import annotations

from dataclasses import dataclass

from qac.errors import ExecutionError

#: The runtime's per-job limit on circuits × shots for a Sampler job (IBM job-limits guide).
MAX_EXECUTIONS_PER_JOB = 10_000_000

#: Instructions every ISA accepts without a Target entry (compiler directives, not operations).
DIRECTIVES = frozenset({"barrier"})


@dataclass(frozen=True)
class Limits:
    """A backend's per-job limits (``None``: no limit of that kind)."""

    num_qubits: int
    max_circuits: int | None = None
    max_shots: int | None = None
    max_executions: int = MAX_EXECUTIONS_PER_JOB

    def capped(self, max_circuits_per_job: int | None) -> Limits:
        """These limits with the user's smaller job size (``--max-circuits-per-job``)."""
        if max_circuits_per_job is None:
            return self
        if max_circuits_per_job < 1:
            raise ExecutionError(f"--max-circuits-per-job must be at least 1, not {max_circuits_per_job}")
        ceiling = max_circuits_per_job if self.max_circuits is None else min(self.max_circuits, max_circuits_per_job)
        return Limits(self.num_qubits, ceiling, self.max_shots, self.max_executions)

    def circuits_per_job(self, shots: int) -> int:
        by_executions = max(1, self.max_executions // shots)
        return by_executions if self.max_circuits is None else min(self.max_circuits, by_executions)


def backend_limits(backend) -> Limits:
    """The limits a backend reports (fake backends and IBMBackend alike)."""
    configuration = getattr(backend, "configuration", None)
    config = configuration() if callable(configuration) else None

    def positive(name):
        value = getattr(config, name, None) if config is not None else None
        return int(value) if isinstance(value, (int, float)) and value > 0 else None

    return Limits(num_qubits=int(backend.num_qubits), max_circuits=positive("max_experiments"),
                  max_shots=positive("max_shots"))


@dataclass(frozen=True)
class Job:
    """One runtime job: row slices ``(pub, start, stop)`` of the PUB list, at ``shots`` each."""

    index: int
    shots: int
    slices: tuple[tuple[int, int, int], ...]

    @property
    def circuits(self) -> int:
        return sum(stop - start for _, start, stop in self.slices)

    def as_dict(self) -> dict:
        return {"index": self.index, "shots": self.shots, "slices": [list(s) for s in self.slices]}

    @classmethod
    def from_dict(cls, data: dict) -> Job:
        return cls(int(data["index"]), int(data["shots"]), tuple(tuple(int(x) for x in s) for s in data["slices"]))


def shot_parts(shots: int, max_shots: int | None) -> list[int]:
    """``shots`` cut into the fewest near-equal parts of at most ``max_shots`` each."""
    if max_shots is None or shots <= max_shots:
        return [shots]
    parts = -(-shots // max_shots)
    return [shots // parts + (i < shots % parts) for i in range(parts)]


def split_jobs(pubs, limits: Limits) -> list[Job]:
    """Cut PUBs ``(circuit, values, shots)`` into jobs within ``limits``, in PUB order.

    Greedy and order-preserving: a job takes rows until it is full or the next rows need
    another shot count; a PUB larger than a job continues in the next one.
    """
    jobs: list[Job] = []
    current: list[tuple[int, int, int]] = []
    current_shots = None

    def close():
        nonlocal current
        if current:
            jobs.append(Job(len(jobs), current_shots, tuple(current)))
        current = []

    for k, (_, values, shots) in enumerate(pubs):
        rows = _rows(values)
        for part in shot_parts(int(shots), limits.max_shots):
            if part != current_shots:
                close()
                current_shots = part
            capacity = limits.circuits_per_job(part)
            start = 0
            while start < rows:
                room = capacity - sum(b - a for _, a, b in current)
                if room == 0:
                    close()
                    continue
                stop = min(rows, start + room)
                current.append((k, start, stop))
                start = stop
    close()
    return jobs


def _rows(values) -> int:
    return 0 if values is None else len(values)


def check_pubs(pubs, target, limits: Limits) -> None:
    """Refuse, in one line, a PUB the backend cannot run: not in its ISA or over its limits."""
    for k, (circuit, values, shots) in enumerate(pubs):
        where = f"PUB {k} (circuit {circuit.name!r})"
        if circuit.num_qubits > limits.num_qubits:
            raise ExecutionError(f"{where} has {circuit.num_qubits} qubits but the backend has {limits.num_qubits}; "
                                 f"compile for this target (qac.compile(spec, target=...))")
        if not any(register.name == "meas" for register in circuit.cregs):
            raise ExecutionError(f"{where} has no classical register 'meas'; the counts are read from it "
                                 f"(qac's ISA circuits measure into 'meas')")
        if int(shots) < 1:
            raise ExecutionError(f"{where} asks for {shots} shots; give at least 1")
        if values is not None and len(values) and values.shape[1:] != (circuit.num_parameters,):
            raise ExecutionError(f"{where} has values of shape {values.shape} for {circuit.num_parameters} parameters")
        for instruction in circuit.data:
            name = instruction.operation.name
            if name in DIRECTIVES:
                continue
            qargs = tuple(circuit.find_bit(q).index for q in instruction.qubits)
            if not target.instruction_supported(name, qargs):
                known = name in target.operation_names
                why = f"not on qubits {qargs}" if known else "not in the backend's ISA"
                raise ExecutionError(f"{where} is not an ISA circuit for {target.description or 'this backend'}: "
                                     f"{name!r} is {why}; compile it for this target "
                                     f"(qac.compile(spec, target=...)) instead of running another target's circuits")


def job_seconds(circuit_seconds: float, circuits: int, shots: int, repetition_delay: float) -> float:
    """A rough QPU time for one job: every shot of every circuit plus the repetition delay.

    Ignores the per-job set-up and the classical processing IBM also counts, so it is a lower
    bound; a real job's ``metrics()["usage"]["quantum_seconds"]`` is the true figure.
    """
    return circuits * shots * (circuit_seconds + repetition_delay)
