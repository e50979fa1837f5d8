"""7. Quantum attention inside a real model (issue 13): a full MiniLM forward (6 layers × 12
heads, every head on circuits, ideal, ``run(engine="auto")``) on one sentence, against the same
forward on qac's Aer engine estimated from a sample (one head of layer 0 run on Aer for real,
its per-pair run time scaled to every pair of the forward, plus one compile per layer).

The first forward is timed cold (the template cache empty, so it includes the one compile of
the template); the second forward on the same sentence shows compile-once: templates are cached
per (head width, target, compile options) and only bindings change. The standalone script is
``python bench/model.py``.
"""

from __future__ import annotations

from bench.common import Section, pick


def forward_row(label: str, seconds: float, records) -> dict:
    return {"forward": label, "wall s": seconds, "run s": sum(i.run_seconds for _, i in records),
            "compile s": sum(i.compile_seconds for _, i in records), "compiles": len(records),
            "pairs": sum(i.pairs for _, i in records),
            "coverage 2σ": sum(i.coverage() * i.pairs for _, i in records) / max(1, sum(i.pairs for _, i in records))}


def run(mode: str = "full") -> Section:
    section = Section("model", "7. A full MiniLM forward with quantum attention")
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        section.note(f"torch/transformers are not installed ({exc}): skipped (`pip install -e '.[torch]'`).")
        section.targets.append(("full MiniLM forward, 72 quantum heads, 8192 shots, under 2 min", None, "not installed"))
        return section
    from bench.model import forward, sentence_of
    from qac.compiler import DEFAULT_CACHE
    from qac.torch import QuantumAttentionConfig
    from qac.torch.model import load

    tokens_wanted, shots = pick(mode, full=12, quick=6), pick(mode, full=8192, quick=1024)
    tokenizer, model = load(None)
    text = sentence_of(tokenizer, tokens_wanted)
    batch = tokenizer([text], return_tensors="pt")
    tokens = batch["input_ids"].shape[1]
    layers, heads = model.config.num_hidden_layers, model.config.num_attention_heads
    pairs = layers * heads * tokens * tokens

    clear = getattr(DEFAULT_CACHE, "clear", None)
    if callable(clear):
        clear()  # a cold first forward: this run's earlier sections may have routed the same template
    config = QuantumAttentionConfig(shots=shots, seed=0, layers="all", heads="all", engine="auto")
    first, first_records = forward(model, batch, config)
    second, second_records = forward(model, batch, config)

    sample = QuantumAttentionConfig(shots=shots, seed=0, layers=(0,), heads=(0,), engine="aer")
    forward(model, batch, sample)  # warm-up: Aer's first import and transpile
    _, records = forward(model, batch, sample)
    (_, info), = records
    per_pair = info.run_seconds / info.pairs
    aer = per_pair * pairs + layers * info.compile_seconds

    rows = [forward_row("1st (cold cache), engine auto", first, first_records),
            forward_row("2nd (same sentence), engine auto", second, second_records),
            {"forward": f"Aer engine, estimated from 1 head of layer 0 ({info.pairs} pairs, "
                        f"{1e3 * per_pair:.2f} ms/pair) scaled to {pairs} pairs", "wall s": aer,
             "run s": per_pair * pairs, "compile s": layers * info.compile_seconds, "compiles": layers,
             "pairs": pairs, "coverage 2σ": None}]
    section.table(f"MiniLM, {tokens} tokens, {layers}×{heads} heads on circuits, ideal aer target, {shots} shots/pair "
                  f"(wall time on this machine)", ["forward", "wall s", "run s", "compile s", "compiles", "pairs",
                                                   "coverage 2σ"], rows)
    engines = sorted({e for _, i in first_records if i.result is not None
                      for e in i.result.engine_metadata.get("engines", [i.result.engine])})
    section.note(f"Sentence: {text!r}; engine(s) that ran: {', '.join(engines) or 'unknown'}; "
                 f"Aer estimate / first forward = {aer / first:.1f}×.")
    section.targets.append((f"full MiniLM forward, {tokens} tokens, 72 quantum heads, {shots} shots, under 2 min",
                            first < 120, f"{first:.1f} s cold ({second:.1f} s warm); Aer engine est. {aer:.0f} s "
                                         f"({aer / first:.1f}× slower)"))
    compile_first, compile_second = rows[0]["compile s"], rows[1]["compile s"]
    section.targets.append(("compile once: the second forward reuses the templates", "reported",
                            f"compile {compile_first:.2f} s in the 1st forward, {compile_second:.2f} s in the 2nd "
                            f"({len(second_records)} binds)"))
    if first >= 120:
        section.losses.append(f"Full MiniLM forward took {first:.0f} s (goal < 120 s).")
    if aer < first:
        section.losses.append(f"qac's Aer engine (estimated {aer:.0f} s) beats the default engine ({first:.0f} s) "
                              "on the MiniLM forward.")
    section.data.update(rows=rows, tokens=tokens, shots=shots)
    return section
