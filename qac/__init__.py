"""qac — a quantum circuit compiler for attention kernels.

``softmax(Q·Kᵀ·scale + mask)·V`` → amplitude-encoded inner-product circuits → OpenQASM 3 and
ISA circuits for a simulator or a named device → the attention output with error bars::

    import qac
    prog = qac.compile("examples/attention.yaml", target="ibm_brisbane")
    print(prog.qasm())
    res = prog.run(shots=8192)          # res.output, res.exact, res.stderr, res.error

Heavy modules (Qiskit, Aer, the IBM runtime) load on first use, so ``import qac`` and
``qac --help`` stay instant.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from qac.errors import (
    CompileError,
    ExecutionError,
    InternalError,
    OutputError,
    QacError,
    SpecError,
    TargetError,
)

if TYPE_CHECKING:  # pragma: no cover - names for the signature only; importing them loads Qiskit
    from qac.passes.layout import TemplateCache
    from qac.program import CompiledAttention
    from qac.spec import Spec

__version__ = "0.1.0"


def compile(spec_or_path: Any, target: str | os.PathLike = "aer", *, seed: int | None = None,  # noqa: A001
            passes: str | None = None, keep_snapshots: bool = False, pack: int | str | None = None,
            cache: TemplateCache | None = None, pv: str | None = None) -> CompiledAttention:
    """Compile an attention spec for a target.

    Args:
        spec_or_path: a path to attention.yaml, a mapping with the same keys, or a ``Spec``
            (``qac.load_spec``); ``docs/spec.md`` lists the keys.
        target: a target name (``qac targets`` lists them) or a device file — ``aer`` by default.
        seed: overrides the spec's seed (transpiler and sampler), 0 … 2³²−1.
        passes: pipeline text overriding the spec's ``compile`` options, e.g.
            ``"normalize,encode{method=binary},estimate{method=interference},layout{optimization_level=3}"``.
        keep_snapshots: keep the IR text after each pass (``--print-after-all``).
        pack: place several copies of each template on the device (``"auto"`` or a count):
            appends ``pack{copies=...}`` to the pipeline (multi-programming, ``passes/pack.py``).
        cache: the ``TemplateCache`` of routed templates (default: the compiler's).
        pv: ``"quantum"`` puts O = P·V on circuits too (two-stage runs; ``docs/kernels.md``),
            ``"classical"`` keeps it in numpy; default: the spec's ``compile.pv`` (classical).

    Returns:
        A ``CompiledAttention``: ``.circuits()``, ``.pubs()``, ``.qasm()``, ``.resources()``,
        ``.save(dir)``, ``.run(shots=..., noise=..., seed=..., exact=..., precision=...)``.

    Raises:
        SpecError, TargetError, CompileError: bad input, with the fix in the message.
    """
    from qac.compiler import (
        compile as _compile,  # Qiskit loads here, not at ``import qac``
    )

    return _compile(spec_or_path, target, seed=seed, passes=passes, keep_snapshots=keep_snapshots, pack=pack,
                    cache=cache, pv=pv)


def load_spec(source: Any, *, base_dir: str | os.PathLike | None = None) -> Spec:
    """Load and validate an attention spec from a YAML path, a mapping or a ``Spec`` (returned as is).

    ``.npy`` paths resolve against ``base_dir`` if given, else the YAML file's directory (file
    sources) or the current directory (mappings). Raises ``SpecError`` (``file:line: field: what;
    fix``).
    """
    from qac.spec import load_spec as _load

    return _load(source, base_dir=base_dir)


def load(directory, *, target=None):
    """The compiled program of a ``qac compile -o DIR`` directory (``qac.artefacts.bundle.load``): it runs,
    decodes and saves exactly as the program that was compiled."""
    from qac.program import CompiledAttention

    return CompiledAttention.load(directory, target=target)


def decode_counts(program_or_directory, counts, *, noise: bool = False, seed: int | None = None):
    """Counts from any sampler (one entry per PUB of ``prog.pubs()``: arrays, BitArrays,
    SamplerPubResults or dicts) → a ``Result`` with the attention output and its error bars,
    unmitigated. ``program_or_directory``: a ``CompiledAttention`` or a build directory; ``seed``:
    the run seed the counts stand for (default the program's), as in ``run``."""
    from qac.execution.counts import decode_counts as _decode

    program = program_or_directory
    if not hasattr(program, "pubs"):
        program = load(program)
    return _decode(program, counts, noise=noise, seed=seed)


__all__ = ["CompileError", "ExecutionError", "InternalError", "OutputError", "QacError", "SpecError", "TargetError",
           "compile", "decode_counts", "load", "load_spec", "__version__"]
