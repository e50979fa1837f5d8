"""Level-neutral kernel knowledge that both the passes and the run path use: encodings, the
estimator circuit library, the binder, closed-form and exact outcome probabilities, decoding and
the classical attention reference."""
