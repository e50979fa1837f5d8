"""The ``qac`` command line: the group and its commands (each command in its own module, loaded on use)."""

from qac.cli.main import main

__all__ = ["main"]
