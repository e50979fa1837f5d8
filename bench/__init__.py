"""qac's benchmark suite: ``python -m bench`` (from the repository root) or ``--quick``.

Every figure is a ratio against a peer measured in the same run, or a count that does not
depend on the machine (gates, depth, shots); plain seconds are labelled as this machine's.
"""
