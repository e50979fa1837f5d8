"""Same spec + same seed → byte-identical outputs, across processes and PYTHONHASHSEED values."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import EXAMPLES, ROOT


def compile_in_subprocess(out, hash_seed: str, target: str = "ibm_brisbane"):
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run([sys.executable, "-m", "qac.cli", "compile", str(EXAMPLES / "attention.yaml"),
                           "--target", target, "-o", str(out)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def test_two_processes_with_different_hash_seeds_write_identical_bytes(tmp_path):
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda args: compile_in_subprocess(*args),
                             [(tmp_path / "a", "0"), (tmp_path / "b", "4242")]))
    for proc in runs:
        assert proc.returncode == 0, proc.stderr
    a, b = tmp_path / "a", tmp_path / "b"
    files = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    assert {"manifest.json", "program.qpy", "logical.qpy", "bindings.npz"} <= set(files)
    assert any(f.startswith("kernels/") and f.endswith(".qasm") for f in files)
    for name in files:
        if name != "timings.json":  # wall-clock pass timings, kept out of the manifest on purpose
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
