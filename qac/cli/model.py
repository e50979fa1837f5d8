"""`qac model [SENTENCE...]`: a transformer run with quantum attention, next to the same model exact."""

from __future__ import annotations

from pathlib import Path

import click

from qac.cli.main import TARGET_HELP, check_seed, handle_errors
from qac.execution.engines import DEFAULT_ENGINE, ENGINES
from qac.kernels import choices
from qac.limits import DEFAULT_SHOTS

EXAMPLE_SENTENCES = ("A quantum computer estimates attention scores.",
                     "Circuits compute the inner products of queries and keys.",
                     "The cat sat on the mat.")


@click.command("model")
@click.argument("sentences", nargs=-1)
@click.option("--file", "sentence_file", type=click.Path(), help="read sentences from a file, one a line")
@click.option("--model", "model_dir", type=click.Path(), help="a local Hugging Face model directory (default: MiniLM)")
@click.option("--layers", default="0", show_default=True, help="layers on circuits: 'all' or indices, e.g. 0,3")
@click.option("--heads", default="all", show_default=True, help="heads on circuits in those layers: 'all' or indices")
@click.option("--target", "-t", default="aer", show_default=True, help=TARGET_HELP)
@click.option("--noise", is_flag=True, help="simulate with the target's noise model")
@click.option("--mitigation/--no-mitigation", default=None, help="readout + rescale mitigation (default: on with --noise)")
@click.option("--shots", type=int, default=DEFAULT_SHOTS, show_default=True, help="shots per (query, key) pair")
@click.option("--precision", type=float, help="wanted standard error of every attention output; sets the shots")
@click.option("--exact", is_flag=True, help="infinite-shot circuit probabilities instead of samples (a check)")
@click.option("--engine", type=click.Choice(list(ENGINES)), default=DEFAULT_ENGINE, show_default=True, help="auto (the batched simulator where it supports the circuits, else Aer), batched or aer")
@click.option("--pv", type=click.Choice(choices.PV), default="classical", show_default=True,
              help="where O = P·V runs: numpy, or circuits too (two-stage runs)")
@click.option("--seed", type=int, default=0, show_default=True, help="sampler and transpiler seed")
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON (for scripts)")
@click.option("-o", "--output", type=click.Path(), help="write model_run.json (what `qac report DIR` reads) into DIR")
@handle_errors
def model_command(sentences, sentence_file, model_dir, layers, heads, target, noise, mitigation, shots, precision,
                  exact, engine, pv, seed, as_json, output):
    """Run MiniLM (or --model DIR) on SENTENCES with quantum attention and compare with exact.

    Prints per quantum layer the attention-output error with its error bars and the hidden-state
    error after the layer; each sentence embedding's cosine to the exact one; the pairwise
    similarities next to the exact ones; and the hardware cost (circuits, shots, two-qubit gates,
    an estimated device time with the numbers it assumed).
    """
    from qac.errors import SpecError
    from qac.torch import require_torch
    from qac.torch.config import QuantumAttentionConfig

    check_seed(seed)
    config = QuantumAttentionConfig(target=target, shots=shots, precision=precision, noise=noise,
                                    mitigation=mitigation, engine=engine, seed=seed, exact=exact,
                                    layers=layers, heads=heads, pv=pv)
    texts = list(sentences)
    if sentence_file:
        from qac.artefacts.guards import NotRegular, read_bounded

        limit = 16 << 20  # sentences for a model run: far more than a run can take
        try:
            raw = read_bounded(sentence_file, limit)
        except NotRegular as exc:
            raise SpecError(f"--file {sentence_file} is a {exc.kind}, not a regular file; give a text file") from None
        except OSError as exc:
            raise SpecError(f"cannot read --file {sentence_file}: {exc.strerror}") from None
        if len(raw) > limit:
            raise SpecError(f"--file {sentence_file} is more than {limit} bytes; give fewer sentences")
        texts += [line.strip() for line in raw.decode("utf-8", "replace").splitlines() if line.strip()]
    texts = texts or list(EXAMPLE_SENTENCES)
    if output and Path(output).exists() and not Path(output).is_dir():
        from qac.errors import OutputError

        raise OutputError(f"-o {output} is a file; give a directory for model_run.json")
    require_torch()
    from qac.torch.model import run

    report = _with_progress(lambda on_layer: run(texts, config, path=model_dir, on_layer=on_layer), config)
    if as_json:
        import json

        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        _print(report)
    if output:
        path = write_model_run(report, output)
        if not as_json:
            click.echo(f"wrote {path}")


def model_run(report: dict) -> dict:
    """``model_run.json`` (docs/report.md, format 1): the report's per-layer rows, and every figure beside them."""
    layers = [{"layer": r["layer"], "name": f"layer {r['layer']}", "heads": len(r["heads"]),
               "max_error": r["attention_max_error"], "rms_error": r["attention_rms_error"],
               "within_2_sigma": r["within_2_sigma"], "shots": report["shots"], "circuits": r["circuits"]}
              for r in report["per_layer"]]
    return {"format": 1, "kind": "model_run", "model": report["model"], "layers": layers, "figures": report}


def write_model_run(report: dict, output: str):
    import json
    from pathlib import Path

    from qac.errors import OutputError

    directory = Path(output)
    path, staging = directory / "model_run.json", directory / ".model_run.json.tmp"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        staging.write_text(json.dumps(model_run(report), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        staging.replace(path)
    except OSError as exc:
        raise OutputError(f"cannot write into {directory}: {exc.strerror}; choose another -o") from None
    return path


def _with_progress(job, config):
    """A rich progress bar (one step per quantum layer) on a terminal; nothing when piped."""
    import sys

    if not sys.stderr.isatty():
        return job(None)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from qac.cli.main import console

    with Progress(TextColumn("quantum attention"), BarColumn(), TextColumn("{task.completed}/{task.total} layers"),
                  TimeElapsedColumn(), console=console(stderr=True), transient=True) as progress:
        task = progress.add_task("layers", total=None)
        return job(lambda layer, info, total: progress.update(task, total=total, advance=0 if info is None else 1))


def _print(report: dict) -> None:
    from rich.table import Table

    from qac.cli.main import console

    out = console()
    mode = "exact probabilities" if report["exact_mode"] else f"{report['shots']} shots/pair"
    out.print(f"{report['model_type']} ({report['layers']} layers x {report['heads']} heads) on {report['target']}"
              f"{' with noise' if report['noise'] else ''}, {mode}, seed {report['seed']}; "
              f"{len(report['sentences'])} sentences, tokens {report['tokens']}", markup=False)
    table = Table(title="quantum layers (errors over real tokens)")
    for column in ("layer", "heads", "circuits", "attn max |err|", "attn rms err", "median sigma", "within 2 sigma",
                   "hidden max |err|", "hidden rel err"):
        table.add_column(column, justify="right")
    for row in report["per_layer"]:
        heads = "all" if len(row["heads"]) == report["heads"] else ",".join(map(str, row["heads"]))
        table.add_row(str(row["layer"]), heads, str(row["circuits"]), f"{row['attention_max_error']:.3g}",
                      f"{row['attention_rms_error']:.3g}", f"{row['median_sigma']:.3g}",
                      f"{100 * row['within_2_sigma']:.1f}%", f"{row['hidden_max_error']:.3g}",
                      f"{row['hidden_relative_error']:.3g}")
    out.print(table)
    sentences = Table(title="sentence embeddings (mean pooling, normalised)")
    for column in ("#", "sentence", "cosine to exact"):
        sentences.add_column(column, justify="left" if column == "sentence" else "right")
    for k, (text, cos) in enumerate(zip(report["sentences"], report["embedding_cosine"])):
        sentences.add_row(str(k), text, f"{cos:.6f}")
    out.print(sentences)
    if report["similarities"]:
        pairs = Table(title="pairwise similarities")
        for column in ("pair", "quantum", "exact", "difference"):
            pairs.add_column(column, justify="right")
        for p in report["similarities"]:
            pairs.add_row(f"{p['a']}-{p['b']}", f"{p['quantum']:.5f}", f"{p['exact']:.5f}", f"{p['quantum'] - p['exact']:+.2e}")
        out.print(pairs)
    cost = report["cost"]
    time_text = ("not estimated (the ideal simulator has no gate durations)" if cost["device_time"]["seconds"] is None
                 else f"{cost['device_time']['seconds']:.4g} s")
    out.print(f"hardware cost: {cost['circuits']} circuits ({cost['pairs']} pairs), {cost['shots']} shots, "
              f"{cost['two_qubit_gates']} two-qubit gates in the circuits "
              f"({'/'.join(map(str, cost['two_qubit_gates_per_circuit']))} per circuit)", markup=False)
    out.print(f"estimated device time: {time_text}; assumed {cost['device_time']['assumed']}", markup=False)
    s = report["seconds"]
    out.print(f"wall time: quantum forward {s['quantum_forward']:.1f} s, exact forward {s['exact_forward']:.2f} s", markup=False)
