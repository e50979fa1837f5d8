"""Running a compiled program: what to run (``plan``), how (``engine``), and back to attention.

One idea per module, data flowing one way — the compiled program is only read:

    plan ──▶ engine (counts) ──▶ estimates (decode, mitigation) ──▶ reconstruct ──▶ Result
      ▲                                                              ▲
      └──────────── precision (pilot, then shots per score) ─────────┘

Nothing here imports ``qac.passes`` or ``qac.ir.pipeline``: every row a run needs (data,
sign partners, calibration) was bound at compile time (``passes/calibration.py``).
"""
