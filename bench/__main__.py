"""``python -m bench [--quick] [--no-write] [--only compile,cost,throughput,accuracy,endtoend,engine,model,pv,coverage,memory,forward]``

Runs the benchmark suite, prints each table as it goes, and rewrites docs/benchmarks.md
and docs/img/*.png (unless ``--no-write``). Run it from the repository root after
``pip install -e ".[bench,torch,dask]"``. The full suite takes about 10 min on 2 cores (the
engine, model, pv and coverage sections about half of it; memory, issue 12's size in a fresh
process, 2–3 min more), ``--quick`` a few minutes (< 2 min for the four new sections).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

import bench.common  # noqa: F401  (sets the environment before anything imports Aer)
from bench.common import Section, machine, versions

SECTIONS = ("compile", "cost", "throughput", "accuracy", "endtoend", "engine", "model", "pv", "coverage", "memory",
            "forward")
ROOT = Path(__file__).resolve().parent.parent


def modules():
    from bench import (
        accuracy,
        compile_time,
        cost,
        coverage,
        endtoend,
        engine_section,
        forward,
        memory,
        model_section,
        pv_section,
        throughput,
    )

    return {"compile": compile_time, "cost": cost, "throughput": throughput, "accuracy": accuracy,
            "endtoend": endtoend, "engine": engine_section, "model": model_section, "pv": pv_section,
            "coverage": coverage, "memory": memory, "forward": forward}


def doc_paragraphs(doc: str) -> str:
    """A module docstring as markdown: the numbered title dropped, ``code`` as `code`, lines joined."""
    import re

    text = re.sub(r"^\s*\d+\.\s*", "", doc.strip()).replace("``", "`")
    blocks = []
    for block in re.split(r"\n\s*\n", text):
        items = re.split(r"\n(?=\* )", block.strip())
        blocks.append("\n".join(" ".join(line.strip() for line in item.splitlines()) for item in items))
    return "\n\n".join(b for b in blocks if b)


def run_sections(names, mode: str) -> list[Section]:
    sections = []
    for name in names:
        module = modules()[name]
        print(f"\n=== {name} ({mode}) ===", flush=True)
        start = time.perf_counter()
        try:
            section = module.run(mode)
        except Exception as exc:  # one broken section must not lose the others' numbers
            traceback.print_exc()
            section = Section(name, f"{name} (failed)")
            section.data["failed"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        section.seconds = time.perf_counter() - start
        section.data.setdefault("doc", doc_paragraphs(module.__doc__ or ""))
        sections.append(section)
    return sections


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small subset (a few minutes)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/ alone")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="where benchmarks.md and img/ go")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    mode = "quick" if args.quick else "full"
    command = "python -m bench" + (" --quick" if args.quick else "") + (
        f" --only {','.join(names)}" if names != list(SECTIONS) else "")
    start = time.perf_counter()
    meta = {"command": command, "mode": mode, "machine": machine(), "versions": versions()}
    sections = run_sections(names, mode)
    from bench.common import markdown_table
    from bench.report import now, summary_rows

    meta.update(seconds=time.perf_counter() - start, date=now(), load_end=os.getloadavg())

    print("\n=== summary ===")
    print(markdown_table(["goal", "met", "measured"], summary_rows(sections)))
    losses = [loss for s in sections for loss in s.losses]
    print("\nWhere qac loses:" + ("".join(f"\n- {loss}" for loss in losses) or " nowhere in this run's data"))
    print(f"\nwall time {meta['seconds']:.0f} s ({mode}); load average now {meta['load_end'][0]:.2f} on "
          f"{meta['machine']['cpus']} CPUs")
    if not args.no_write:
        from bench.report import write

        path = write(sections, meta, args.docs)
        print(f"wrote {path} and {args.docs / 'img'}")
    return 1 if any(s.data.get("failed") for s in sections) else 0


if __name__ == "__main__":
    sys.exit(main())
