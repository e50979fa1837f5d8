"""A tiny vision transformer on scikit-learn's digits, trained with quantum attention in the loop.

scikit-learn's ``load_digits`` (1,797 real 8×8 images, 10 classes) cut into 2×2 patches: 16 tokens
of 4 pixels. One transformer block (width 16, 2 heads of width 8, pre-norm, mean pooling), trained
from scratch with Adam for a fixed step budget, either classically (torch SDPA) or with every
attention score estimated on circuits in the forward pass (``qac.torch.training.attention``:
straight-through gradients, no gradient circuits), and evaluated the same way on a held-out test
set (a seeded 75/25 split). Each seed sets the split, the initialisation and the batches.

    python examples/vit_digits.py [--seeds 0 1 2] [--steps 200] [--batch 16] [--shots 256] [--noise] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch

WIDTH, HEADS = 16, 2


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1, self.norm2 = torch.nn.LayerNorm(WIDTH), torch.nn.LayerNorm(WIDTH)
        self.qkv = torch.nn.Linear(WIDTH, 3 * WIDTH)
        self.proj = torch.nn.Linear(WIDTH, WIDTH)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(WIDTH, 2 * WIDTH), torch.nn.GELU(), torch.nn.Linear(2 * WIDTH, WIDTH))

    def forward(self, x, attend):
        b, n, _ = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, HEADS, WIDTH // HEADS).permute(2, 0, 3, 1, 4)
        x = x + self.proj(attend(q, k, v).transpose(1, 2).reshape(b, n, WIDTH))
        return x + self.mlp(self.norm2(x))


class TinyViT(torch.nn.Module):
    def __init__(self, side: int = 2):
        super().__init__()
        self.side = side
        self.embed = torch.nn.Linear(side * side, WIDTH)
        self.position = torch.nn.Parameter(0.1 * torch.randn((8 // side) ** 2, WIDTH))
        self.block = Block()
        self.norm = torch.nn.LayerNorm(WIDTH)
        self.head = torch.nn.Linear(WIDTH, 10)

    def forward(self, images, attend):
        x = self.embed(patches(images, self.side)) + self.position
        return self.head(self.norm(self.block(x, attend)).mean(1))


def patches(images: torch.Tensor, side: int = 2) -> torch.Tensor:
    """(B, 8, 8) → (B, (8/side)², side²): side×side patches in row-major order (2 → 16 tokens of 4 pixels)."""
    b, n = images.shape[0], 8 // side
    return images.reshape(b, n, side, n, side).permute(0, 1, 3, 2, 4).reshape(b, n * n, side * side)


def data(seed: int):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float64)
    y = torch.tensor(digits.target)
    train, test = train_test_split(np.arange(len(y)), test_size=0.25, random_state=seed, stratify=digits.target)
    return (x[train], y[train]), (x[test], y[test])


def attention_fn(config, counter: dict):
    """The attention the model calls: torch SDPA (classical) or qac with straight-through gradients."""
    if config is None:
        return torch.nn.functional.scaled_dot_product_attention
    from qac.torch import training

    def attend(q, k, v):
        out, info = training.attention(q, k, v, config=config.__class__(**{**config.__dict__, "seed": counter["calls"]}),
                                       return_result=True)
        counter["calls"] += 1
        counter["circuits"] += info.circuits
        return out

    return attend


def train(seed: int = 0, quantum: bool = False, steps: int = 150, shots: int = 256, batch: int = 16, noise: bool = False,
          backward: str = "exact", eval_quantum: bool | None = None, test_size: int | None = None, lr: float = 1e-2,
          side: int = 2) -> dict:
    """Train one model; test accuracy evaluated with the same attention as training unless
    ``eval_quantum`` says otherwise. Returns accuracy, circuits run, seconds."""
    from qac.torch import QuantumAttentionConfig

    torch.manual_seed(seed)
    (x, y), (xt, yt) = data(seed)
    if test_size is not None:
        xt, yt = xt[:test_size], yt[:test_size]
    config = QuantumAttentionConfig(target="ibm_fez" if noise else "aer", noise=noise, shots=shots, heads="all",
                                    backward=backward)
    model = TinyViT(side).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    counter = {"calls": 0, "circuits": 0}
    attend = attention_fn(config if quantum else None, counter)
    order = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    losses = []
    for _ in range(steps):
        index = torch.randint(0, len(y), (batch,), generator=order)
        loss = torch.nn.functional.cross_entropy(model(x[index], attend), y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    train_seconds = time.perf_counter() - start
    quantum_eval = quantum if eval_quantum is None else eval_quantum
    evaluate = attention_fn(config if quantum_eval else None, counter)
    with torch.no_grad():
        predicted = torch.cat([model(xt[i:i + 128], evaluate).argmax(-1) for i in range(0, len(yt), 128)])
    return {"seed": seed, "quantum_train": quantum, "quantum_eval": quantum_eval, "noise": noise, "backward": backward,
            "steps": steps, "tokens": (8 // side) ** 2, "accuracy": float((predicted == yt).double().mean()), "test_images": len(yt),
            "first_loss": losses[0], "last_loss": float(np.mean(losses[-10:])), "circuits": counter["circuits"],
            "train_seconds": train_seconds, "seconds": time.perf_counter() - start}


def interval(values) -> tuple[float, float]:
    """Mean and the 95% half-width over seeds (Student t)."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float(values.mean()), math.nan
    return float(values.mean()), float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--shots", type=int, default=256)
    parser.add_argument("--noise", action="store_true", help="also train and evaluate on ibm_fez's noise model")
    parser.add_argument("--test-size", type=int, default=None, help="evaluate on the first N test images")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # two BLAS threads on a shared 2-core machine ran 7x slower (measured)
    runs = [("classical → classical", dict(quantum=False)),
            ("classical → quantum (ideal)", dict(quantum=False, eval_quantum=True)),
            ("quantum (ideal) → quantum (ideal)", dict(quantum=True))]
    if args.noise:
        runs += [("classical → quantum (ibm_fez noisy)", dict(quantum=False, eval_quantum=True, noise=True)),
                 ("quantum (ibm_fez noisy) → same", dict(quantum=True, noise=True))]
    table = {}
    for label, kwargs in runs:
        rows = [train(seed, steps=args.steps, shots=args.shots, test_size=args.test_size, batch=args.batch, **kwargs)
                for seed in args.seeds]
        mean, half = interval([r["accuracy"] for r in rows])
        table[label] = {"mean": mean, "ci95": half, "runs": rows}
        if not args.json:
            print(f"{label:40s} accuracy {mean:.3f} ± {half:.3f}  (seeds {args.seeds}; "
                  f"{np.mean([r['seconds'] for r in rows]):.1f} s a run)", flush=True)
    if args.json:
        print(json.dumps(table, indent=1))
    return table


if __name__ == "__main__":
    main()
