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

from qac.errors import (CompileError, ExecutionError, InternalError, OutputError, QacError, SpecError,
                        TargetError)

__version__ = "0.1.0"


def compile(spec_or_path, target="aer", **options):  # noqa: A001 - the public name users expect
    from qac.compiler import compile as _compile

    return _compile(spec_or_path, target, **options)


compile.__doc__ = "Compile an attention spec for a target; see ``qac.compiler.compile``."


def load_spec(source, **options):
    """Load and validate an attention spec (path, mapping or Spec)."""
    from qac.spec import load_spec as _load

    return _load(source, **options)


def load(directory, *, target=None):
    """The compiled program of a ``qac compile -o DIR`` directory (``qac.bundle.load``): it runs,
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
