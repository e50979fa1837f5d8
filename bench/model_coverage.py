"""Model-output error bars (issue 23): 2σ coverage of MiniLM's outputs, every head of every layer on circuits.

The 60 sentences of examples/pairs.tsv (my own, 30 pairs) run through MiniLM with all 72 heads
quantum and ``qac.torch.uncertainty``'s replicas (R = 24) for: ideal aer 1024 and 8192 shots,
and ibm_fez with noise and mitigation at 1024 shots. For each it prints the share of entries
within 2σ of the exact model's (exact attention everywhere) for the last hidden state (real
tokens), the pooled embeddings, the 30 pair cosines and the cosines of every pair of inputs
(1,770: 30 cosines move the share by 3.3 % each), the median σ, and the cost of the
replicas next to the quantum forward (one batch also run without replicas).

    python -m bench.model_coverage [--batch 10] [--replicas 24] [--limit 60] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SETTINGS = (("aer", False, 1024), ("aer", False, 8192), ("ibm_fez", True, 1024))


def read_pairs(path: str) -> tuple[list[str], list[tuple[int, int]]]:
    lines = open(path, encoding="utf-8").read().splitlines()[1:]
    sentences, pairs = [], []
    for line in lines:
        a, b, _ = line.split("\t")
        pairs.append((len(sentences), len(sentences) + 1))
        sentences += [a, b]
    return sentences, pairs


def main(argv=None) -> dict:
    import torch

    from bench.model import forward as timed_forward
    from qac.torch.config import QuantumAttentionConfig
    from qac.torch.model import embeddings, load
    from qac.torch.uncertainty import coverage, forward, rms_sigma

    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--replicas", type=int, default=24)
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--pairs", default=os.path.join(os.path.dirname(__file__), "..", "examples", "pairs.tsv"))
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    sentences, pairs = read_pairs(args.pairs)
    sentences = sentences[:args.limit]
    pairs = [(a, b) for a, b in pairs if b < len(sentences)]
    tokenizer, model = load(None)
    results = {}
    for target, noise, shots in SETTINGS:
        config = QuantumAttentionConfig(target=target, noise=noise, shots=shots, layers="all", seed=0)
        hidden, sigma, exact, emb, emb_r, emb_x = [], [], [], [], [], []
        seconds = {"forward": 0.0, "quantum_attention": 0.0, "replica_attention": 0.0}
        start = time.perf_counter()
        for lo in range(0, len(sentences), args.batch):
            batch = tokenizer(sentences[lo:lo + args.batch], padding=True, return_tensors="pt")
            errors = forward(model, batch, config, replicas=args.replicas)
            m = errors.mask
            hidden.append(errors.last[m]), sigma.append(errors.sigma()[m]), exact.append(errors.exact[-1][m])
            emb.append(embeddings(errors.last, m)), emb_x.append(embeddings(errors.exact[-1], m))
            emb_r.append(torch.stack([embeddings(r, m) for r in errors.replicas[-1]]))
            for key in seconds:
                seconds[key] += errors.seconds[key]
            print(f"  {target} noise={noise} shots={shots}: {lo + batch['input_ids'].shape[0]}/{len(sentences)} "
                  f"({time.perf_counter() - start:.0f} s, load {os.getloadavg()[0]:.1f})", flush=True)
        hidden, sigma, exact = torch.cat(hidden), torch.cat(sigma), torch.cat(exact)
        emb, emb_x, emb_r = torch.cat(emb), torch.cat(emb_x), torch.cat(emb_r, dim=1)
        a, b = torch.tensor([p[0] for p in pairs]), torch.tensor([p[1] for p in pairs])
        cos, cos_x = (emb[a] * emb[b]).sum(-1), (emb_x[a] * emb_x[b]).sum(-1)
        cos_r = (emb_r[:, a] * emb_r[:, b]).sum(-1)
        emb_s, cos_s = rms_sigma(emb, emb_r), rms_sigma(cos, cos_r)
        # every pair of the inputs too (1,770 cosines at 60 inputs): 30 pairs move the share by 3.3 % each
        i, j = torch.triu_indices(len(emb), len(emb), offset=1)
        every, every_x, every_r = (emb[i] * emb[j]).sum(-1), (emb_x[i] * emb_x[j]).sum(-1), (emb_r[:, i] * emb_r[:, j]).sum(-1)
        row = {"inputs": len(sentences), "tokens": int(hidden.shape[0]), "replicas": args.replicas,
               "hidden_coverage": coverage(hidden, sigma, exact), "embedding_coverage": coverage(emb, emb_s, emb_x),
               "cosine_coverage": coverage(cos, cos_s, cos_x),
               "all_pairs_cosine_coverage": coverage(every, rms_sigma(every, every_r), every_x),
               "hidden_median_sigma": float(sigma.median()),
               "embedding_median_sigma": float(emb_s.median()), "cosine_median_sigma": float(cos_s.median()),
               "cosine_max_error": float((cos - cos_x).abs().max()), "seconds": seconds,
               "wall_seconds": time.perf_counter() - start, "load": os.getloadavg()}
        results[f"{target}{' noisy' if noise else ''} {shots}"] = row
        print(json.dumps({k: v for k, v in row.items()}, default=float), flush=True)
    # the replicas' cost: one batch with and without them (ideal 1024 shots)
    config = QuantumAttentionConfig(shots=1024, layers="all", seed=1)
    batch = tokenizer(sentences[:args.batch], padding=True, return_tensors="pt")
    plain, _ = timed_forward(model, batch, config)
    errors = forward(model, batch, config, replicas=args.replicas, with_exact=False)
    results["cost"] = {"plain_quantum_forward": plain, "with_replicas": errors.seconds["forward"],
                       "replica_attention": errors.seconds["replica_attention"], "replicas": args.replicas,
                       "load": os.getloadavg()}
    print(json.dumps(results["cost"], default=float), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2, default=float)
    return results


if __name__ == "__main__":
    main()
