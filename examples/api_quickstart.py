"""The Python API in a dozen lines: compile for a device snapshot, look, run, compare."""

from pathlib import Path

import qac

spec = Path(__file__).with_name("attention.yaml")
prog = qac.compile(spec, target="ibm_brisbane")
print(prog.resources())               # qubits, two-qubit gates, depth, physical qubits per kernel
print(prog.qasm()[:400])              # OpenQASM 3, parameters as `input float[64]`
print(prog.circuits()[0].count_ops())  # one bound circuit in the device's ISA (ecr, rz, sx, x, measure)
ideal = prog.run(shots=8192)
print("ideal: max error", ideal.max_error, "max sigma", ideal.max_stderr)
noisy = prog.run(shots=8192, noise=True)
print("noisy: max error", noisy.max_error, "max sigma", noisy.max_stderr)
