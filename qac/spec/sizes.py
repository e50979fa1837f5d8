"""Size limits and the keys a spec may hold (checked before anything is allocated)."""

from __future__ import annotations

from qac.limits import MAX_SEED, MAX_SHOTS  # noqa: F401  one definition: qac/limits.py (the CLI and the API check the same)

MAX_ROWS = 4096  # N and M: each query×key pair is one circuit
MAX_COLS = 1024  # d and dv
MAX_PAIRS = 2**20  # N·M·heads circuits
MAX_BINDING_VALUES = 2**27  # pairs × angles per pair: 1 GiB of float64 bindings
MAX_YAML_NODES = 200_000  # bigger inline data belongs in .npy files
MAX_YAML_DEPTH = 32  # specs nest 5 deep; this stops runaway recursion in the composer
MAX_FILE_BYTES = 32 * 2**20

TOP_KEYS = ("name", "seed", "heads", "mask", "scale", "shots", "precision", "Q", "K", "V", "compile")
COMPILE_KEYS = ("encoding", "estimator", "optimization_level", "passes", "pv")
SOURCE_KEYS = ("npy", "random")
RANDOM_KEYS = ("shape", "seed", "scale")
