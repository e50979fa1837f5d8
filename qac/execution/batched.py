"""The batched engine (``qac.simulator``) behind the engine interface, chunked, optionally on Dask.

``BatchedEngine.counts`` simulates every row of a PUB at once (``qac.simulator.probabilities``:
the compiled ISA circuit, gate by gate, statevector or density-matrix batches with the target's
own noise model) and draws multinomial counts. Rows go through in chunks of ``CHUNK_ROWS``; each
chunk's samples come from ``seeds.sequence(seed, "chunk", pub, chunk)``, so the counts depend on the run
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
from concurrent.futures import CancelledError as _CancelledError
from contextlib import contextmanager

import numpy as np

from qac import seeds
from qac.errors import ExecutionError

CHUNK_ROWS = 2048  # rows per sampling chunk: fixed, so seeds do not depend on workers or memory
IN_FLIGHT = 4  # Dask chunks submitted ahead per worker: enough to keep each busy, few enough to bound memory


def _chunk_counts(circuit, values, noise_model, shots, entropy) -> list[np.ndarray]:
    """One task: the probabilities of its rows in one simulator call, then counts for each chunk
    it holds from that chunk's own seed (runs on a worker too). ``values``, ``shots`` and
    ``entropy`` are lists, one entry per chunk (several PUBs' chunks of one circuit share a call)."""
    from qac.simulator import probabilities, sample_counts

    joint = probabilities(circuit, values[0] if len(values) == 1 else np.concatenate(values), noise_model)
    out, start = [], 0
    for part, pub_shots, stream in zip(values, shots, entropy):
        out.append(sample_counts(joint[start:start + len(part)], pub_shots, seeds.sequence(*stream)))
        start += len(part)
    return out


def _tasks(runs, seed: int):
    """Each task's (where, arguments) as it is reached. A PUB's rows are cut into ``CHUNK_ROWS``
    chunks (each a view of its table) with streams ``seeds.sequence(seed, "chunk", pub, chunk)``
    that depend on the plan only; consecutive chunks of PUBs on the same circuit and noise model
    then share one task (one simulator call) while their rows total at most ``CHUNK_ROWS``: a
    model forward's hundreds of small (batch, head) blocks of one template become a few calls, and
    since the simulator's rows never depend on their neighbours (tested) and each chunk keeps its
    stream, the counts are those of one call a chunk."""
    groups: dict = {}
    for k, circuit, values, model, shots in runs:
        chunks = groups.setdefault((id(circuit), id(model)), (circuit, model, []))[2]
        for chunk, start in enumerate(range(0, len(values), CHUNK_ROWS)):
            rows = slice(start, min(len(values), start + CHUNK_ROWS))
            chunks.append(((k, rows), values[rows], shots, (seed, "chunk", k, chunk)))
    for circuit, model, chunks in groups.values():
        task: list = []
        for chunk in chunks + [None]:
            if task and (chunk is None or sum(len(c[1]) for c in task) + len(chunk[1]) > CHUNK_ROWS):
                yield [c[0] for c in task], (circuit, [c[1] for c in task], model, [c[2] for c in task],
                                             [c[3] for c in task])
                task = []
            if chunk is not None:
                task.append(chunk)


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
        from qac.execution.aer_engine import (
            active_qubits,
            register_slice,
            restricted_noise_model,
        )

        results, runs = [], []
        seen: dict = {}  # id(circuit) → (bits, model): a forward's hundreds of PUBs share a few circuits
        for k, (circuit, values, shots) in enumerate(pubs):
            values = np.asarray(values, dtype=float)  # a view of a float64 table, not a copy
            if id(circuit) not in seen:
                model = None if noise_model is None else restricted_noise_model(noise_model, active_qubits(circuit))
                seen[id(circuit)] = [register_slice(circuit)[1], model, False]
            bits, model, checked = seen[id(circuit)]
            results.append(np.zeros((len(values), 1 << bits), dtype=np.int64))
            if not len(values):
                continue
            if not checked:
                self._check(circuit, model)
                if not (self.workers or self.scheduler):
                    from qac.simulator import rows_per_chunk

                    rows_per_chunk(circuit, model)  # lower and plan once, before threads share the program
                seen[id(circuit)][2] = True
            runs.append((k, circuit, values, model, int(shots)))
        total = sum(len(run[2]) for run in runs)
        done = 0
        calls = 0
        for wheres, counts in self._map(_tasks(runs, int(seed))):
            calls += 1
            for (k, rows), part in zip(wheres, counts):
                results[k][rows] = part
                done += rows.stop - rows.start
            if self.progress is not None:
                self.progress(done, total)
        self.metadata = {"engine": "batched", "chunk_rows": CHUNK_ROWS, "rows": total,
                         "simulator_calls": calls, "workers": self.workers or (None if self.scheduler is None else "cluster"),
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
            return _Watched(client.submit(_chunk_counts, once(circuit), values, once(model), shots, entropy,
                                          pure=False), client, self.scheduler)

        with _dask_faults(self.scheduler, client):
            yield from _windowed(tasks, submit, window)

    def close(self) -> None:
        """End the Dask client (and the LocalCluster this engine started), if any; a cluster that
        is already gone (its scheduler killed) is not waited for."""
        if self._dask is not None:
            client, cluster = self._dask
            self._dask = None
            with _quiet_dask():
                try:
                    client.close(timeout=DASK_TIMEOUT)
                    if cluster is not None:
                        cluster.close(timeout=DASK_TIMEOUT)
                except (OSError, RuntimeError, _CancelledError):  # closing what a fault already ended
                    pass


#: Seconds qac waits for a Dask scheduler to answer, for a worker to join, or for a cluster that
#: lost every worker to get one back, before it stops with one line (tests shorten it).
DASK_TIMEOUT = 30.0
#: How often a chunk being waited for checks that its cluster still has a worker.
DASK_POLL = 1.0

def check_scheduler_address(address: str) -> None:
    """A ``--scheduler`` address is ``[tcp://]HOST:PORT`` and something listens there: checked
    before compiling (``ExecutionError``, one line), with a plain socket (no Dask import)."""
    import re
    import socket

    match = re.fullmatch(r"(?:(tcp|tls)://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(\d{1,5})", address.strip())
    if match is None or not 0 < int(match.group(3)) < 65536:
        raise ExecutionError(f"--scheduler {address!r} is not a Dask scheduler address; give tcp://HOST:PORT "
                             f"(e.g. tcp://127.0.0.1:8786, what `dask scheduler` prints) or use --workers N")
    if match.group(1) == "tls":
        return  # TLS needs the client's security settings: Dask itself checks it when it connects
    host, port = match.group(2).strip("[]"), int(match.group(3))
    try:
        with socket.create_connection((host, port), timeout=min(DASK_TIMEOUT, 10.0)):
            pass
    except OSError as exc:
        raise ExecutionError(f"cannot reach the Dask scheduler at {address}: {exc.strerror or exc}; start it with "
                             f"`dask scheduler` (and `dask worker {address}`) or use --workers N") from None


class _quiet_dask:
    """distributed logs a lost scheduler as tracebacks on stderr; qac says it in one line instead."""

    NAMES = ("distributed", "distributed.client", "distributed.core", "distributed.comm", "tornado.application")

    def __enter__(self):
        import logging

        self.levels = [(logging.getLogger(n), logging.getLogger(n).level) for n in self.NAMES]
        for logger, _ in self.levels:
            logger.setLevel(logging.CRITICAL + 1)
        return self

    def __exit__(self, *exc):
        for logger, level in self.levels:
            logger.setLevel(level)
        return False


class _dask_faults(_quiet_dask):
    """Faults of the cluster (not of qac's code) become one ``ExecutionError`` line."""

    def __init__(self, scheduler: str | None, client=None):
        self.where = f"the Dask scheduler at {scheduler}" if scheduler else "the local Dask cluster"
        self.client = client

    def _workers(self) -> int | None:
        """How many workers the scheduler has now (None: it does not answer)."""
        try:
            return len(self.client.nthreads()) if self.client is not None and self.client.status == "running" else None
        except Exception:  # noqa: BLE001  a lost scheduler fails in many ways; None says it
            return None

    def __exit__(self, kind, exc, tb):
        super().__exit__(kind, exc, tb)
        if exc is None or isinstance(exc, ExecutionError):
            return False
        from distributed.comm.core import CommClosedError
        from distributed.scheduler import KilledWorker

        if isinstance(exc, KilledWorker):
            raise ExecutionError(f"a worker of {self.where} died while running qac's chunks ({exc}); check the "
                                 f"workers' memory and logs, then run again") from None
        if isinstance(exc, _CancelledError) and (left := self._workers()) is not None:
            raise ExecutionError(f"{self.where} lost a worker during the run, and the chunks' data with it ({left} "
                                 f"worker(s) left); nothing was written: check the workers and run again") from None
        if isinstance(exc, (_CancelledError, CommClosedError, TimeoutError, ConnectionError)):
            raise ExecutionError(f"lost {self.where} during the run ({type(exc).__name__}: "
                                 f"{' '.join(str(exc).split())[:200]}); nothing was written: restart the cluster "
                                 f"and run again, or run without --scheduler/--workers") from None
        return False


class _Watched:
    """A Dask future whose ``result`` stops, with one line, once its cluster has had no worker
    for ``DASK_TIMEOUT`` seconds (a lost only worker would otherwise leave the run waiting forever)."""

    def __init__(self, future, client, scheduler):
        self.future, self.client, self.scheduler = future, client, scheduler

    def result(self):
        import time

        alone_since = None
        while True:
            try:
                return self.future.result(timeout=DASK_POLL)
            except TimeoutError:
                if self.future.done():
                    continue
            workers = self.client.nthreads()  # asks the scheduler: a lost scheduler raises here too
            if workers:
                alone_since = None
            elif alone_since is None:
                alone_since = time.monotonic()
            elif time.monotonic() - alone_since > DASK_TIMEOUT:
                where = f"the Dask scheduler at {self.scheduler}" if self.scheduler else "the local Dask cluster"
                raise ExecutionError(f"{where} has had no worker for {DASK_TIMEOUT:g} s (its workers died or left); "
                                     f"nothing was written: start a worker (`dask worker ADDRESS`) and run again")


def _dask_client(workers: int | None, scheduler: str | None):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ExecutionError("--workers/--scheduler need dask.distributed: pip install -e '.[dask]' "
                             "(from a source checkout) or pip install 'qac[dask]'") from None
    if scheduler is not None:
        check_scheduler_address(scheduler)
        with _quiet_dask():
            try:
                client = Client(scheduler, timeout=f"{DASK_TIMEOUT}s")
            except (OSError, ValueError, TypeError) as exc:
                raise ExecutionError(f"cannot reach the Dask scheduler at {scheduler}: "
                                     f"{' '.join(str(exc).split())[:200]}; check the address or use --workers N") from None
            try:
                client.wait_for_workers(1, timeout=DASK_TIMEOUT)
            except (TimeoutError, OSError):
                try:
                    client.close(timeout=DASK_TIMEOUT)
                except (OSError, RuntimeError, _CancelledError):
                    pass
                raise ExecutionError(f"the Dask scheduler at {scheduler} has no worker (none joined within "
                                     f"{DASK_TIMEOUT:g} s); start one with `dask worker {scheduler}` or use --workers N"
                                     ) from None
        return client, None
    # no dashboard; the scheduler's HTTP routes on any free port (its default 8787 warns when taken)
    with own_environment():
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               host="127.0.0.1", silence_logs=50, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
    return Client(cluster), cluster


@contextmanager
def own_environment():
    """Keep this process's environment as it was: Dask's nanny writes its workers' settings
    (``distributed.nanny.pre-spawn-environ``: OMP_NUM_THREADS=1, MALLOC_TRIM_THRESHOLD_=65536, …)
    into ``os.environ`` before it spawns them, and every later subprocess of the user's process
    inherited them (a noisy layer in a later subprocess ran 6× slower: glibc trimming on every free)."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        if dict(os.environ) != saved:
            os.environ.clear()
            os.environ.update(saved)


class AutoEngine:
    """The batched engine wherever it supports the PUB's circuit and noise model, else Aer."""

    name = "auto"

    def __init__(self, batched: BatchedEngine, fallback):
        self.batched, self.fallback = batched, fallback
        self.metadata: dict = {}
        #: ideal unmitigated runs draw proven templates' data rows from the closed form
        #: (``RunPlan.run``) — unless Dask workers or a scheduler were asked for: that asks for the
        #: simulation to be spread, so every circuit is simulated there
        self.closed_form = not (batched.workers or batched.scheduler)

    def close(self) -> None:
        self.batched.close()

    def _choice(self, circuit, noise_model) -> tuple[str, str]:
        from qac.execution.aer_engine import active_qubits, restricted_noise_model

        model = None if noise_model is None else restricted_noise_model(noise_model, active_qubits(circuit))
        ok, why = self.batched.supports(circuit, model)
        return ("batched", "") if ok else ("aer", why)

    def probabilities(self, circuit, values, noise_model=None) -> np.ndarray | None:
        name, _ = self._choice(circuit, noise_model)
        return self.batched.probabilities(circuit, values, noise_model) if name == "batched" else None

    def counts(self, pubs, *, seed: int, noise_model=None) -> list[np.ndarray]:
        memo: dict = {}  # id(circuit) → choice: PUBs of one template share their circuit

        def choice(circuit):
            if id(circuit) not in memo:
                memo[id(circuit)] = self._choice(circuit, noise_model)
            return memo[id(circuit)]
        choices = [choice(pub[0]) if len(pub[1]) else ("batched", "") for pub in pubs]
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
        if "batched" in used:
            self.metadata["simulator_calls"] = self.batched.metadata.get("simulator_calls")
        return results
