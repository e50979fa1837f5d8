"""Passes, the compile context, and the pipeline that runs them.

A pass is a frozen dataclass with a ``name`` and one pure method ``run(module, context)``
that reads one level and returns the same or the next (xDSL's ``ModulePass``). Its options
are its dataclass fields, so a pipeline is text and back::

    normalize,encode{method=binary},estimate{method=interference},layout{optimization_level=1}

The pipeline times each pass, verifies the IR after it, and keeps a snapshot of the IR text
when asked (LLVM's ``-print-after-all``). Passes never print, write files or read globals.
This module knows no pass by name: the registry is ``qac.passes.PASSES`` and the parser takes
it as an argument (``qac.passes.parse`` is the short form), so no pass imports its importer.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from qac.errors import CompileError, InternalError

if TYPE_CHECKING:  # pragma: no cover
    from qac.ir.records import AutoChoice


@dataclass
class CompileContext:
    """What a pass may know beyond its module: the target, the seed, the transpile cache, the timer.

    ``choice`` is the one analysis result that crosses levels: ``choose`` (L1) writes the
    ranked ``auto`` candidates, ``cost`` (L4) publishes them (Qiskit's property set, typed).
    """

    target: Any  # qac.targets.TargetDescription
    seed: int = 0
    cache: Any = None  # a qac.passes.layout.TemplateCache, or None: transpile every time
    timings: dict[str, float] = field(default_factory=dict)
    choice: AutoChoice | None = None


@dataclass(frozen=True)
class Pass:
    name: ClassVar[str]
    reads: ClassVar[str]  # the level it reads ("L1".."L4")
    writes: ClassVar[str]  # the level it leaves
    analysis: ClassVar[bool] = False  # records facts on the module, never changes its circuits
    recorded: ClassVar[bool] = True  # False: left out of the resolved pipeline text (``choose``)

    def run(self, module: Any, context: CompileContext) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def plan(self, module: Any, context: CompileContext, rest: list[Pass]) -> tuple[Any, list[Pass]]:
        """Run, and say which passes follow: the rest as written, unless the pass decides the
        lowering (``choose`` puts the passes it picked in front of the rest)."""
        return self.run(module, context), rest

    def snapshot(self, module: Any, context: CompileContext) -> str:
        """The IR text ``--print-after-all`` shows after this pass."""
        return module.describe()

    def options_text(self) -> str:
        """``name{field=value,...}``; a field marked ``metadata={"quiet": True}`` is left out while it
        holds its default (an optional setting that older pipeline texts never named)."""
        fields = [f for f in dataclasses.fields(self) if f.init
                  and not (f.metadata.get("quiet") and getattr(self, f.name) == f.default)]
        if not fields:
            return self.name
        opts = ",".join(f"{f.name}={getattr(self, f.name)}" for f in fields)
        return f"{self.name}{{{opts}}}"


_ITEM = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\{([^{}]*)\})?\s*(?:,|$)")


def _coerce(value: str, annotation: Any, where: str) -> Any:
    kind = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    try:
        if "int" in kind and "float" not in kind:
            return int(value)
        if "float" in kind:
            return float(value)
        if "bool" in kind:
            if value.lower() in ("true", "1", "yes"):
                return True
            if value.lower() in ("false", "0", "no"):
                return False
            raise ValueError(value)
    except ValueError:
        raise CompileError(f"pipeline: {where} expects {kind}, got {value!r}; fix the pipeline text") from None
    return value


def parse_pipeline(text: str, passes_by_name: Mapping[str, type[Pass]]) -> list[Pass]:
    """Parse pipeline text into instances of the passes in ``passes_by_name`` (the registry,
    ``qac.passes.PASSES``; ``qac.passes.parse`` supplies it); unknown passes/options are ``CompileError``."""
    text = text.strip()
    if not text:
        raise CompileError("pipeline: the pipeline text is empty; write e.g. 'normalize,encode,estimate,layout'")
    pos, result = 0, []
    while pos < len(text):
        m = _ITEM.match(text, pos)
        if not m or m.end() == pos:
            raise CompileError(f"pipeline: cannot parse {text[pos:]!r}; write passes as name{{key=value,...}} separated by commas")
        name, options = m.group(1), m.group(2)
        pos = m.end()
        cls = passes_by_name.get(name)
        if cls is None:
            hint = difflib.get_close_matches(name, passes_by_name, n=1)
            fix = f"did you mean '{hint[0]}'?" if hint else f"known passes: {', '.join(sorted(passes_by_name))}"
            raise CompileError(f"pipeline: unknown pass '{name}'; {fix}")
        known = {f.name: f for f in dataclasses.fields(cls) if f.init}
        kwargs = {}
        for item in filter(None, (s.strip() for s in (options or "").split(","))):
            key, sep, value = item.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or key not in known:
                hint = difflib.get_close_matches(key, known, n=1)
                fix = f"did you mean '{hint[0]}'?" if hint else (
                    f"options of {name}: {', '.join(known) or 'none'}")
                raise CompileError(f"pipeline: pass '{name}' has no option '{key}'; {fix}")
            kwargs[key] = _coerce(value, known[key].type, f"{name}.{key}")
        try:
            result.append(cls(**kwargs))
        except CompileError:
            raise
        except (TypeError, ValueError) as exc:
            raise CompileError(f"pipeline: bad options for '{name}': {exc}; fix the pipeline text") from None
    return result


def format_pipeline(passes: list[Pass]) -> str:
    return ",".join(p.options_text() for p in passes)


@dataclass
class PipelineRun:
    module: Any
    passes: list[Pass]  # the passes that ran, resolved (``choose`` replaced by its pick; no analyses)
    timings: dict[str, float]
    snapshots: list[tuple[str, str]]  # (pass text, IR text after it)

    @property
    def pipeline(self) -> str:
        """The resolved pipeline text: what the manifest records and ``--passes`` reproduces."""
        return format_pipeline(self.passes)


def run_pipeline(passes: list[Pass], module: Any, context: CompileContext, *, analyses: tuple[Pass, ...] = (),
                 keep_snapshots: bool = False) -> PipelineRun:
    """Run passes in order: check levels, time each, verify the IR after each.

    After every pass that transforms L4 (``layout``, ``pack``) the ``analyses`` run (e.g.
    ``resources``, Qiskit's analysis passes): they are not written in the pipeline text but
    are timed, verified and snapshotted like any pass.
    """
    snapshots: list[tuple[str, str]] = []
    if keep_snapshots:
        snapshots.append(("input", module.describe()))

    def step(p: Pass, module: Any, rest: list[Pass]) -> tuple[Any, list[Pass]]:
        if getattr(module, "level", None) != p.reads:
            raise CompileError(f"pipeline: pass '{p.name}' reads {p.reads} but receives "
                               f"{getattr(module, 'level', type(module).__name__)}; reorder the pipeline")
        start = time.perf_counter()
        module, rest = p.plan(module, context, rest)
        context.timings[p.name] = context.timings.get(p.name, 0.0) + time.perf_counter() - start
        if module.level != p.writes:  # a pass that lies about its level is a bug, not user error
            raise InternalError(f"pass '{p.name}' left {module.level}, declared {p.writes}")
        module.verify()
        if keep_snapshots:
            snapshots.append((p.options_text(), p.snapshot(module, context)))
        return module, rest

    queue, ran = list(passes), []
    while queue:
        p = queue.pop(0)
        module, queue = step(p, module, queue)
        if p.recorded:
            ran.append(p)
        if p.writes == "L4" and not p.analysis:
            for analysis in analyses:
                module, _ = step(analysis, module, [])
    return PipelineRun(module, ran, dict(context.timings), snapshots)
