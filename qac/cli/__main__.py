"""``python -m qac.cli``: the same as the ``qac`` command."""

from qac.cli.main import main

main()
