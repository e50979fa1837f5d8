"""L0 of qac: load and validate an attention spec into a frozen :class:`Spec`.

A spec describes the kernel ``softmax(Q·Kᵀ·scale + mask)·V``: three matrices (inline rows,
``.npy`` files or seeded random normals), heads, mask, shots, seed and compile options.
It comes from a YAML file or an already-parsed mapping (:func:`load_spec`).

Every mistake is raised as ONE line of :class:`~qac.errors.SpecError`::

    <file>:<line>: <field>: <what is wrong>; <how to fix it>

(``<spec>: <field>: ...`` when there is no file). Lines come from the YAML nodes. All values
are converted by our own code, not pydantic, so every message carries a fix. Sizes are
checked before anything is allocated, YAML aliases are refused (no alias bombs), ``.npy``
files are read without pickle, and Qiskit is not imported, so validation is instant.

Modules: ``limits`` (sizes, keys), ``problems`` (located errors), ``values`` (scalar fields
and compile options), ``arrays`` (Q, K, V sources), ``model`` (``Spec``, ``CompileOptions``),
``load`` (``load_spec``, the YAML rules). Every name is importable from ``qac.spec``.
"""

from __future__ import annotations

from qac.spec.load import YAML_RULES, load_spec
from qac.spec.model import CompileOptions, Spec
from qac.spec.problems import Loc
from qac.spec.sizes import (
                             COMPILE_KEYS,
                             MAX_BINDING_VALUES,
                             MAX_COLS,
                             MAX_FILE_BYTES,
                             MAX_PAIRS,
                             MAX_ROWS,
                             MAX_SEED,
                             MAX_SHOTS,
                             MAX_YAML_DEPTH,
                             MAX_YAML_NODES,
                             RANDOM_KEYS,
                             SOURCE_KEYS,
                             TOP_KEYS,
)

__all__ = ["COMPILE_KEYS", "MAX_BINDING_VALUES", "MAX_COLS", "MAX_FILE_BYTES", "MAX_PAIRS", "MAX_ROWS", "MAX_SEED",
           "MAX_SHOTS", "MAX_YAML_DEPTH", "MAX_YAML_NODES", "RANDOM_KEYS", "SOURCE_KEYS", "TOP_KEYS", "YAML_RULES",
           "CompileOptions", "Loc", "Spec", "load_spec"]
