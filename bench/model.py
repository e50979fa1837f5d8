"""A full MiniLM forward with quantum attention: all 6 layers x 12 heads on circuits, ideal, 8192 shots.

Measures the whole forward on ``--engine`` (wall time on this machine), and the same forward on
qac's Aer engine estimated from a sample: one head of layer 0 run for real, its per-pair time
scaled to every pair of the forward. Prints both and their ratio, plus how often the forward
compiled and transpiled (``--skip-full`` measures only the sample).

    python bench/model.py [--engine auto] [--tokens 12] [--shots 8192] [--skip-full]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SENTENCE = "Quantum circuits estimate every attention score of this small sentence encoder model"


def sentence_of(tokenizer, tokens: int) -> str:
    """A prefix of SENTENCE that tokenizes to exactly ``tokens`` tokens ([CLS] and [SEP] included)."""
    words = SENTENCE.split()
    for k in range(1, len(words) + 1):
        text = " ".join(words[:k])
        if len(tokenizer(text)["input_ids"]) >= tokens:
            return text
    return SENTENCE


def forward(model, batch, config):
    """One forward with the "qac" backend; (seconds, records)."""
    import torch

    import qac.torch as qt

    backend = qt.register(config)
    model.set_attn_implementation("qac")
    start = time.perf_counter()
    with torch.no_grad():
        model(**batch)
    seconds = time.perf_counter() - start
    model.set_attn_implementation("sdpa")
    return seconds, list(backend.records)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="auto", help="engine of the full forward (where run() has a choice)")
    parser.add_argument("--tokens", type=int, default=12)
    parser.add_argument("--shots", type=int, default=8192)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-full", action="store_true", help="measure only the Aer sample")
    args = parser.parse_args(argv)

    from qac.torch import QuantumAttentionConfig
    from qac.torch.model import load

    tokenizer, model = load(None)
    text = sentence_of(tokenizer, args.tokens)
    batch = tokenizer([text], return_tensors="pt")
    tokens = batch["input_ids"].shape[1]
    layers, heads = model.config.num_hidden_layers, model.config.num_attention_heads
    pairs = layers * heads * tokens * tokens
    print(f"MiniLM, {tokens} tokens ({text!r}), {layers}x{heads} heads on circuits, {pairs} pairs, "
          f"ideal aer, {args.shots} shots/pair")

    sample_config = QuantumAttentionConfig(shots=args.shots, seed=args.seed, layers=(0,), heads=(0,), engine="aer")
    forward(model, batch, sample_config)  # warm-up: imports, first transpile
    seconds, records = forward(model, batch, sample_config)
    (_, info), = records
    per_pair = info.run_seconds / info.pairs
    aer_estimate = per_pair * pairs + layers * info.compile_seconds
    print(f"aer sample: 1 head of layer 0, {info.pairs} pairs: run {info.run_seconds:.2f} s "
          f"({1e3 * per_pair:.2f} ms/pair), compile {info.compile_seconds:.2f} s; forward {seconds:.2f} s")
    print(f"aer, scaled to the full forward ({pairs} pairs, {layers} compiles): {aer_estimate:.1f} s")
    out = {"tokens": tokens, "pairs": pairs, "shots": args.shots, "aer_ms_per_pair": 1e3 * per_pair,
           "aer_estimate_seconds": aer_estimate}
    if not args.skip_full:
        config = QuantumAttentionConfig(shots=args.shots, seed=args.seed, layers="all", heads="all", engine=args.engine)
        seconds, records = forward(model, batch, config)
        compile_seconds = sum(i.compile_seconds for _, i in records)
        run_seconds = sum(i.run_seconds for _, i in records)
        templates = {r["template"] for _, i in records for r in i.kernels}
        print(f"full forward, engine {args.engine}: {seconds:.1f} s wall (run {run_seconds:.1f} s, compile "
              f"{compile_seconds:.1f} s in {len(records)} compiles, templates {sorted(templates)}); "
              f"goal < 120 s: {'met' if seconds < 120 else 'not met'}")
        print(f"aer estimate / full forward: {aer_estimate / seconds:.2f}x")
        out.update(full_seconds=seconds, full_run_seconds=run_seconds, full_compile_seconds=compile_seconds,
                   engine=args.engine, compiles=len(records))
    return out


if __name__ == "__main__":
    main()
