"""Vendor devices described by YAML files (kind ``device_file``): IonQ, Quantinuum, IQM, Rigetti.

One idea per module: ``device_schema`` (the file format and its validation into a
``Device``), ``device_loader`` (reading files, shipped by name or a user's by path, into a
``TargetDescription``) and ``device_noise`` (the Qiskit ``Target``, the Aer noise model and
backend). This module is the kind module ``TargetDescription`` calls (``qiskit_target``,
``noise_model``, ``backend``) and keeps every name importable from ``qac.targets.devices``.
"""

from __future__ import annotations

from .device_loader import (DEVICE_DIR, KIND, MAX_FILE_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES,  # noqa: F401
                            SHIPPED, YAML_RULES, device, from_path, load_device, read_yaml, shipped, shipped_path)
from .device_noise import backend, depolarizing_parameter, gate_error_channel, noise_model, qiskit_target  # noqa: F401
from .device_schema import (COHERENCE_KEYS, COUPLING_KEYS, DEVICE_STATUSES, FORMAT, GATE_HINTS,  # noqa: F401
                            GATE_KEYS, MAX_ALL_TO_ALL, MAX_QUBITS, ONE_QUBIT_GATES, READOUT_KEYS, REQUIRED,
                            TOP_KEYS, TWO_QUBIT_GATES, Device, Gate, Loc, parse_device)
