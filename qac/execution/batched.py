"""The batched engine (``qac.simulator``) behind the engine interface, chunked, optionally on Dask.

``BatchedEngine.counts`` simulates every row of a PUB at once (``qac.simulator.probabilities``:
the compiled ISA circuit, gate by gate, statevector or density-matrix batches with the target's
own noise model) and draws multinomial counts. Rows go through in chunks of ``CHUNK_ROWS``; each
chunk's samples come from ``SeedSequence((seed, pub, chunk))``, so the counts depend on the run
seed and the plan only — never on how many workers ran them or in what order. ``workers=N``
starts a ``dask.distributed.LocalCluster`` of N single-threaded workers (``scheduler=ADDRESS``
joins an existing cluster) and spreads the chunks over them; results are gathered in order.
Each chunk's arguments are built when it is reached (its rows a view of the PUB's table) and
Dask gets at most ``IN_FLIGHT`` chunks a worker ahead of the one being gathered, so memory
beyond the PUBs' own tables stays a few chunks whatever the rows (docs/engine.md "Memory bound").

``AutoEngine`` runs each PUB on the batched engine where ``qac.simulator.supports`` says it can
(the exact circuit and noise model), else on Aer, and records which and why.
"""

from __future__ import annotations

import os
from collections import deque

import numpy as np

from qac.errors import ExecutionError

CHUNK_ROWS = 2048  # rows per sampling chunk: fixed, so seeds do not depend on workers or memory
IN_FLIGHT = 4  # Dask chunks submitted ahead per worker: enough to keep each busy, few enough to bound memory


def _chunk_counts(circuit, values, noise_model, shots: int, entropy: tuple) -> np.ndarray:
    """One chunk: probabilities of its rows, then counts from its own seed (runs on a worker too)."""
    from qac.simulator import probabilities, sample_counts

    return sample_counts(probabilities(circuit, values, noise_model), shots, np.random.SeedSequence(entropy))


def _tasks(runs, seed: int):
    """Each chunk's (where, arguments) as it is reached: its rows are a slice (a view) of the PUB's
    table, and its seed (seed, pub, chunk) depends on the plan only."""
    for k, circuit, values, model, shots in runs:
        for chunk, start in enumerate(range(0, len(values), CHUNK_ROWS)):
            rows = slice(start, min(len(values), start + CHUNK_ROWS))
            yield (k, rows), (circuit, values[rows], model, shots, (seed, k, chunk))


#: Threads running chunks in this process (numpy and BLAS release the GIL; each chunk's BLAS stays
#: on one thread). Counts do not depend on it: each chunk is simulated and sampled on its own.
THREADS = max(1, min(2, os.cpu_count() or 1))


def _threaded(tasks):
    """(where, counts) per task in task order, ``THREADS`` chunks at a time (at most twice that
    many submitted ahead, so memory stays a few chunks). BLAS is held at one thread here, once,
    for all of them: entering threadpoolctl's limit from two threads at once could lift it early."""
    from concurrent.futures import ThreadPoolExecutor

    from qac.simulator import single_blas_thread

    if THREADS == 1:
        for where, args in tasks:
            yield where, _chunk_counts(*args)
        return
    with single_blas_thread(), ThreadPoolExecutor(THREADS) as pool:
        yield from _windowed(tasks, lambda args: pool.submit(_chunk_counts, *args), 2 * THREADS)


def _windowed(tasks, submit, window: int):
    """(where, result) per task in task order, with at most ``window`` submitted and not yet
    gathered: the next is submitted as the oldest is gathered."""
    pending: deque = deque()
    for where, args in tasks:
        pending.append((where, submit(args)))
        if len(pending) >= window:
            where, future = pending.popleft()
            yield where, future.result()
    while pending:
        where, future = pending.popleft()
        yield where, future.result()


class BatchedEngine:
    """Counts from ``qac.simulator``; ``workers``/``scheduler`` spread chunks over Dask."""

    name = "batched"

    def __init__(self, *, workers: int | None = None, scheduler: str | None = None, progress=None):
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ExecutionError(f"workers must be a positive whole number, not {workers!r}")
        self.workers, self.scheduler, self.progress = workers, scheduler, progress
        self.metadata: dict = {}
        self._dask = None  # (client, cluster) while a run uses them; ``close`` ends them
        self._dask_ran = None  # {"workers": n, "scheduler": address or None} once chunks ran on Dask

    def supports(self, circuit, noise_model=None) -> tuple[bool, str]:
        from qac.simulator import supports

        return supports(circuit, noise_model)

    def probabilities(self, circuit, values, noise_model=None) -> np.ndarray:
        """Exact outcome probabilities of every row (``run(exact=True)``)."""
        from qac.simulator import probabilities

        self._check(circuit, noise_model)
        return probabilities(circuit, np.asarray(values, dtype=float), noise_model)

    def _check(self, circuit, noise_model) -> None:
        ok, why = self.supports(circuit, noise_model)
        if not ok:
            raise ExecutionError(f"the batched engine cannot run {circuit.name!r}: {why}; use --engine aer or auto")

    def counts(self, pubs, *, seed: int, noise_model=None) -> list[np.ndarray]:
        from qac.execution.engine import active_qubits, register_slice, restricted_noise_model

        results, runs = [], []
        for k, (circuit, values, shots) in enumerate(pubs):
            values = np.asarray(values, dtype=float)  # a view of a float64 table, not a copy
            bits = register_slice(circuit)[1]
            results.append(np.zeros((len(values), 1 << bits), dtype=np.int64))
            if not len(values):
                continue
            model = None if noise_model is None else restricted_noise_model(noise_model, active_qubits(circuit))
            self._check(circuit, model)
            if not (self.workers or self.scheduler):
                from qac.simulator import rows_per_chunk

                rows_per_chunk(circuit, model)  # lower and plan once, before threads share the program
            runs.append((k, circuit, values, model, int(shots)))
        total = sum(len(run[2]) for run in runs)
        done = 0
        for (k, rows), counts in self._map(_tasks(runs, int(seed))):
            results[k][rows] = counts
            done += rows.stop - rows.start
            if self.progress is not None:
                self.progress(done, total)
        self.metadata = {"engine": "batched", "chunk_rows": CHUNK_ROWS, "rows": total,
                         "workers": self.workers or (None if self.scheduler is None else "cluster"),
                         "dask": self._dask_ran}
        return results

    def _map(self, tasks):
        """((pub, rows), counts) per task, in task order: in this process, or on Dask workers with
        at most ``IN_FLIGHT`` chunks a worker submitted at once (the next is submitted as the
        oldest is gathered), so neither side holds more than a few chunks' rows and counts."""
        if not self.workers and not self.scheduler:
            yield from _threaded(tasks)
            return
        if self._dask is None:
            self._dask = _dask_client(self.workers, self.scheduler)
        client = self._dask[0]
        count = self.workers or len(client.scheduler_info().get("workers", {}))
        self._dask_ran = {"workers": count, "scheduler": self.scheduler}
        window = IN_FLIGHT * max(1, count or 1)
        shared: dict = {}

        def once(item):
            """The circuit and noise model go to every worker once (``scatter``), not with every
            chunk: each worker then holds one object per PUB, so the simulator's lowering cache
            (keyed by object) hits for all its chunks instead of lowering each chunk again."""
            if item is None:
                return None
            if id(item) not in shared:
                shared[id(item)] = (item, client.scatter(item, broadcast=True, hash=False))
            return shared[id(item)][1]

        def submit(args):
            circuit, values, model, shots, entropy = args
            return client.submit(_chunk_counts, once(circuit), values, once(model), shots, entropy, pure=False)

        yield from _windowed(tasks, submit, window)

    def close(self) -> None:
        """End the Dask client (and the LocalCluster this engine started), if any."""
        if self._dask is not None:
            client, cluster = self._dask
            self._dask = None
            client.close()
            if cluster is not None:
                cluster.close()


def _dask_client(workers: int | None, scheduler: str | None):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ExecutionError("--workers/--scheduler need dask.distributed: pip install -e '.[dask]' "
                             "(from a source checkout) or pip install 'qac[dask]'") from None
    if scheduler is not None:
        try:
            return Client(scheduler, timeout="10s"), None
        except OSError as exc:
            raise ExecutionError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    # no dashboard; the scheduler's HTTP routes on any free port (its default 8787 warns when taken)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           host="127.0.0.1", silence_logs=50, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
    return Client(cluster), cluster


class AutoEngine:
    """The batched engine wherever it supports the PUB's circuit and noise model, else Aer."""

    name = "auto"

    def __init__(self, batched: BatchedEngine, fallback):
        self.batched, self.fallback = batched, fallback
        self.metadata: dict = {}

    def close(self) -> None:
        self.batched.close()

    def _choice(self, circuit, noise_model) -> tuple[str, str]:
        from qac.execution.engine import active_qubits, restricted_noise_model

        model = None if noise_model is None else restricted_noise_model(noise_model, active_qubits(circuit))
        ok, why = self.batched.supports(circuit, model)
        return ("batched", "") if ok else ("aer", why)

    def probabilities(self, circuit, values, noise_model=None) -> np.ndarray | None:
        name, _ = self._choice(circuit, noise_model)
        return self.batched.probabilities(circuit, values, noise_model) if name == "batched" else None

    def counts(self, pubs, *, seed: int, noise_model=None) -> list[np.ndarray]:
        choices = [self._choice(pub[0], noise_model) if len(pub[1]) else ("batched", "") for pub in pubs]
        results: list = [None] * len(pubs)
        for name, engine in (("batched", self.batched), ("aer", self.fallback)):
            members = [k for k, (chosen, _) in enumerate(choices) if chosen == name]
            if members:
                for k, counts in zip(members, engine.counts([pubs[k] for k in members], seed=seed,
                                                            noise_model=noise_model)):
                    results[k] = counts
        reasons = sorted({why for chosen, why in choices if chosen == "aer"})
        used = sorted({chosen for chosen, _ in choices})
        self.metadata = {"engine": "auto", "engines": used, "aer_because": reasons,
                         "dask": self.batched.metadata.get("dask") if "batched" in used else None}
        return results
