"""RUN_DIR: what a hardware run sent and what came back, kept so the run survives interruption.

Layout (one ``stage-N`` per ``counts`` call of the run: a precision run samples a pilot, then
the rest)::

    RUN_DIR/stage-0/manifest.json        format, qac version, target, runtime, seed, PUB digest, jobs
    RUN_DIR/stage-0/pubs.qpy             the ISA circuits sent (one per PUB), QPY
    RUN_DIR/stage-0/values.npz           their parameter values (pub_0, pub_1, ...) and shots
    RUN_DIR/stage-0/jobs/job-0003.json   one record per job: status, runtime job id, attempts, errors
    RUN_DIR/stage-0/jobs/job-0003.npz    its counts once done (one array per slice), sha256 in the record

Every file is written whole or not at all (temporary file in the same directory, fsync,
``os.replace``, fsync of the directory), so a killed process leaves the last complete state. A
job's counts are written before the record that says ``done`` and names their sha256, so a
record never claims counts that are not there. Nothing here ever deletes a file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from qac.errors import ExecutionError, OutputError

FORMAT = "qac-run/1"
STATUSES = ("submitted", "done", "failed")


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably (temp + fsync + os.replace + dir fsync)."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def json_bytes(data) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def pubs_digest(pubs) -> str:
    """sha256 over each PUB's circuit (QPY bytes), values (float64, with shape) and shots."""
    from qac.artefacts.emit import qpy_bytes

    digest = hashlib.sha256()
    for circuit, values, shots in pubs:
        array = np.ascontiguousarray(np.zeros((0, circuit.num_parameters)) if values is None else values, dtype=np.float64)
        for part in (qpy_bytes([circuit]), repr(array.shape).encode(), array.tobytes(), str(int(shots)).encode()):
            digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def stage_path(top, index: int) -> Path:
    """Where the ``index``-th ``counts`` call of a run keeps its jobs (a run may sample in stages,
    e.g. a pilot then the main shots)."""
    return Path(top) / f"stage-{index}"


def check_top(top) -> None:
    """Refuse a RUN_DIR that exists and holds anything but qac stages."""
    top = Path(top)
    if top.exists() and not top.is_dir():
        raise OutputError(f"run directory {top} is a file; choose another -o")
    if top.is_dir():
        foreign = sorted(p.name for p in top.iterdir() if not p.name.startswith("stage-"))
        if foreign:
            raise OutputError(f"{top} exists and is not a qac run directory (it holds {', '.join(foreign[:3])}); "
                              f"choose another -o")


def stages(top) -> list[RunDir]:
    """The stages of the run in RUN_DIR ``top``, in order; refuses a directory that holds none."""
    top = Path(top)
    found = []
    while (stage_path(top, len(found)) / "manifest.json").exists():
        found.append(RunDir.open(stage_path(top, len(found))))
    if not found:
        raise ExecutionError(f"{top} is not a qac run directory (no stage-0/manifest.json); "
                             f"start a run with -o {top}")
    return found


class RunDir:
    """One stage of a run directory: its manifest, the PUBs it was made for, one record per job."""

    def __init__(self, path, manifest: dict):
        self.path = Path(path)
        self.manifest = manifest

    @property
    def jobs_dir(self) -> Path:
        return self.path / "jobs"

    # ------------------------------------------------------------------ create / open
    @classmethod
    def create(cls, path, manifest: dict, pubs) -> RunDir:
        """A new run directory; refuses one that exists (resume it, or choose another -o)."""
        from qac.artefacts.emit import npz_bytes, qpy_bytes

        path = Path(path)
        if (path / "manifest.json").exists():
            raise OutputError(f"run directory {path} already exists; resume it with --resume {path} "
                              f"or choose another -o")
        try:  # a directory without a manifest was left by a create that stopped: no job was sent from it
            (path / "jobs").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create run directory {path}: {exc.strerror}; choose another -o") from None
        values = {f"pub_{k}": np.asarray(v if v is not None else np.zeros((1, 0)), dtype=np.float64)
                  for k, (_, v, _) in enumerate(pubs)}
        values["shots"] = np.asarray([int(s) for _, _, s in pubs], dtype=np.int64)
        write_file(path / "pubs.qpy", qpy_bytes([c for c, _, _ in pubs]))
        write_file(path / "values.npz", npz_bytes(values))
        write_file(path / "manifest.json", json_bytes({"format": FORMAT, **manifest}))  # last: marks it whole
        return cls(path, {"format": FORMAT, **manifest})

    @classmethod
    def open(cls, path) -> RunDir:
        """An existing run directory, its manifest checked for form (not yet for fit)."""
        path = Path(path)
        manifest_path = path / "manifest.json"
        if not manifest_path.is_file():
            raise ExecutionError(f"{path} is not a qac run directory (no manifest.json); "
                                 f"start a run with -o {path}")
        try:
            manifest = json.loads(manifest_path.read_text())
            if manifest.get("format") != FORMAT:
                raise ValueError(f"format {manifest.get('format')!r}, expected {FORMAT!r}")
            for key in ("qac_version", "target", "runtime", "seed", "digest", "jobs", "pubs"):
                if key not in manifest:
                    raise ValueError(f"no {key!r}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ExecutionError(f"{manifest_path} is corrupted ({exc}); restore it from a backup, "
                                 f"or start a new run with another -o (nothing was changed)") from None
        return cls(path, manifest)

    def check_fits(self, *, digest: str, target: str, qac_version: str) -> None:
        """Refuse, with the reason, a run directory made for another run."""
        m = self.manifest
        if m["qac_version"] != qac_version:
            raise ExecutionError(f"{self.path} was written by qac {m['qac_version']}, this is qac {qac_version}; "
                                 f"resume it with qac {m['qac_version']} or start a new run with another -o")
        if m["target"] != target:
            raise ExecutionError(f"{self.path} is a run on {m['target']}, not {target}; "
                                 f"resume it with --target {m['target']} or start a new run with another -o")
        if m["digest"] != digest:
            raise ExecutionError(f"{self.path} was made for other circuits (a different spec, seed, shots or "
                                 f"compile options: PUB digest {m['digest'][:12]} != {digest[:12]}); "
                                 f"resume it with the spec it was made for or start a new run with another -o")

    def load_pubs(self):
        """The PUBs ``(circuit, values, shots)`` the run directory was made for."""
        from qiskit import qpy

        with open(self.path / "pubs.qpy", "rb") as stream:
            circuits = qpy.load(stream)
        with np.load(self.path / "values.npz") as arrays:
            shots = arrays["shots"]
            return [(c, arrays[f"pub_{k}"], int(shots[k])) for k, c in enumerate(circuits)]

    # ------------------------------------------------------------------ job records
    def record_path(self, index: int) -> Path:
        return self.jobs_dir / f"job-{index:04d}.json"

    def counts_path(self, index: int) -> Path:
        return self.jobs_dir / f"job-{index:04d}.npz"

    def read_record(self, index: int) -> dict | None:
        """The job's record, or None if it was never submitted; a damaged one is refused."""
        path = self.record_path(index)
        if not path.exists():
            return None
        try:
            record = json.loads(path.read_text())
            if record.get("index") != index or record.get("status") not in STATUSES:
                raise ValueError("index or status missing or wrong")
            job = self.manifest["jobs"][index]
            if record.get("slices") != job["slices"] or record.get("shots") != job["shots"]:
                raise ValueError("its slices or shots are not the manifest's")
            if record["status"] == "done":
                data = self.counts_path(index).read_bytes()
                if hashlib.sha256(data).hexdigest() != record.get("counts_sha256"):
                    raise ValueError(f"{self.counts_path(index).name} does not match the sha256 in the record")
        except (ValueError, OSError, UnicodeDecodeError, AttributeError) as exc:
            raise ExecutionError(f"job record {path} is corrupted ({exc}); restore it, or delete "
                                 f"{path.name} (and its .npz) to run that job again; nothing was changed") from None
        return record

    def write_record(self, record: dict) -> None:
        write_file(self.record_path(record["index"]), json_bytes(record))

    def write_counts(self, record: dict, counts: list[np.ndarray]) -> dict:
        """Store a finished job's counts (one array per slice), then the record that says done."""
        from qac.artefacts.emit import npz_bytes

        data = npz_bytes({f"slice_{i}": c for i, c in enumerate(counts)})
        write_file(self.counts_path(record["index"]), data)
        done = {**record, "status": "done", "counts_sha256": hashlib.sha256(data).hexdigest(), "error": None}
        self.write_record(done)
        return done

    def read_counts(self, index: int) -> list[np.ndarray]:
        with np.load(io.BytesIO(self.counts_path(index).read_bytes())) as arrays:
            return [arrays[f"slice_{i}"] for i in range(len(arrays.files))]

    def records(self) -> list[dict | None]:
        return [self.read_record(job["index"]) for job in self.manifest["jobs"]]
