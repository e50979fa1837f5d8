"""Where runtime jobs go: the user's IBM Quantum account (cloud) or local testing mode.

``cloud`` opens ``QiskitRuntimeService()`` with the account the user saved beforehand
(``QiskitRuntimeService.save_account``); qac never asks for, prints or stores a token.
``local`` is the runtime's local testing mode: the same ``Batch`` and executor ``Sampler``
calls, run offline on Aer with the noise of the fake backend of the same name
(``qiskit_ibm_runtime.fake_provider``, e.g. FakeFez for ibm_fez). Local mode hands the runtime
an ``AerSimulator`` carrying the fake backend's noise model restricted to the qubits the run
uses, instead of the fake backend itself: the runtime would rebuild the whole 156-qubit noise
model for every job (≈5 s each), and the restricted model draws the same samples (checked in
tests/test_runtime.py). Limits, ISA checks and calibration still come from the fake backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qac.errors import ExecutionError, TargetError

RUNTIMES = ("local", "cloud")

SAVE_ACCOUNT_HINT = ("no IBM Quantum account is saved; save one once with "
                     "`python -c \"from qiskit_ibm_runtime import QiskitRuntimeService; "
                     "QiskitRuntimeService.save_account(token='<your API key>', instance='<your CRN>')\"` "
                     "(see docs/hardware.md), or use --runtime local")


@dataclass
class Connection:
    """An open runtime: the device ``backend`` (target, limits, calibration), the ``mode_backend``
    a Batch runs on (the device itself, or local mode's simulator), and the ``service`` that
    re-attaches to jobs by id (None in local mode)."""

    runtime: str
    target: str
    backend: Any
    mode: Any = None  # the Batch's backend (cloud: the device)
    service: Any = None
    instance: str | None = None
    build_mode: Any = None  # local: PUBs -> simulator of the fake backend's noise on their qubits

    @property
    def local(self) -> bool:
        return self.runtime == "local"

    def mode_backend(self, pubs):
        """What the Batch runs on for these PUBs: the device, or (local) a simulator of its noise."""
        return self.mode if self.build_mode is None else self.build_mode(pubs)

    def job(self, job_id: str):
        """The runtime job with this id (cloud only: local jobs live only in their process)."""
        return self.service.job(job_id)

    def find_jobs(self, tags: list[str]) -> list:
        """Jobs carrying every tag (cloud only), newest first."""
        return list(self.service.jobs(job_tags=tags, limit=10))


def device_target(target: str) -> str:
    """The canonical IBM device name for a qac target name; other targets are refused."""
    from qac import targets

    description = targets.get(target)
    if description.kind != "ibm_snapshot":
        raise TargetError(f"--runtime needs an IBM device target such as ibm_fez, not {description.name!r} "
                          f"({description.kind}); see `qac targets`")
    return description.name


def connect(target: str, runtime: str = "local", *, instance: str | None = None) -> Connection:
    """Open ``runtime`` for the IBM device ``target``; no network unless ``runtime == "cloud"``."""
    if runtime not in RUNTIMES:
        raise ExecutionError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    name = device_target(target)
    return _local(name) if runtime == "local" else _cloud(name, instance)


def _local(name: str) -> Connection:
    from qac.targets import ibm

    simulators: dict = {}

    def simulator(pubs):  # built when jobs are submitted: plans and checks need no noise model
        from qac.execution.aer_engine import active_qubits, restricted_noise_model

        qubits = frozenset().union(*(active_qubits(c) for c, _, _ in pubs))
        if qubits not in simulators:
            from qiskit_aer import AerSimulator

            simulators[qubits] = AerSimulator(noise_model=restricted_noise_model(ibm.noise_model(name), qubits))
        return simulators[qubits]

    return Connection("local", name, ibm.backend(name), build_mode=simulator)


def _cloud(name: str, instance: str | None) -> Connection:
    from qiskit_ibm_runtime import QiskitRuntimeService
    from qiskit_ibm_runtime.accounts import AccountNotFoundError

    try:
        service = QiskitRuntimeService(instance=instance) if instance else QiskitRuntimeService()
    except AccountNotFoundError:
        raise ExecutionError(SAVE_ACCOUNT_HINT) from None
    except Exception as exc:  # the service reports bad accounts and network trouble as many types
        raise ExecutionError(f"cannot open IBM Quantum Runtime: {_one_line(exc)}; check your saved account "
                             f"(docs/hardware.md) and network, or use --runtime local") from None
    try:
        backend = service.backend(name)
    except Exception as exc:
        raise ExecutionError(f"IBM Quantum Runtime has no backend {name!r} for this account"
                             f"{f' and instance {instance}' if instance else ''}: {_one_line(exc)}; "
                             f"list yours with QiskitRuntimeService().backends()") from None
    return Connection("cloud", name, backend, backend, service=service, instance=instance)


def calibration_time(backend) -> str | None:
    """When the backend was last calibrated (ISO 8601), from its properties."""
    try:
        properties = backend.properties()
    except Exception:  # some backends have no properties; the calibration time is then unknown
        return None
    stamp = getattr(properties, "last_update_date", None)
    return None if stamp is None else (stamp.isoformat() if hasattr(stamp, "isoformat") else str(stamp))


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return (text[:300] + "…") if len(text) > 300 else (text or type(exc).__name__)
