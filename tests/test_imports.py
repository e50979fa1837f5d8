"""The import graph: data flows one way, so no qac module imports itself back, counting the
imports inside functions; and ``import qac`` / ``qac --help`` load neither Qiskit nor torch.

Modules are read with ``ast`` from the source tree as they install (``passes/`` is
``qac.passes``, ``targets/`` is ``qac.targets``, as pyproject's ``package-dir`` maps them).
Imports under ``if TYPE_CHECKING:`` never run and are left out; imports by name in strings
(``importlib.import_module``, the CLI's lazy commands) are not seen.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {"qac": ROOT / "qac", "qac.passes": ROOT / "passes", "qac.targets": ROOT / "targets"}
HEAVY = ("qiskit", "qiskit_aer", "qiskit_ibm_runtime", "torch", "transformers")


def module_files() -> dict[str, Path]:
    """Every qac module by dotted name, from the three source folders."""
    modules = {}
    for package, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((package, *parts))] = path
    return modules


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_nodes(tree: ast.AST):
    """Every Import/ImportFrom that can run: at module level, in functions and classes alike."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The qac modules that module ``name`` (at ``path``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in import_nodes(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
            continue
        base = node.module or ""
        if node.level:  # relative: strip level − 1 trailing parts of the package
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*anchor, *([base] if base else [])])
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            found.add(submodule if submodule in known else base)
    return {m for m in found if m in known and m != name}


def import_graph() -> nx.DiGraph:
    files = module_files()
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for name, path in files.items():
        graph.add_edges_from((name, target) for target in sorted(imported_modules(name, path, set(files))))
    return graph


def test_the_graph_sees_the_modules_and_their_imports():
    """The walk itself: it finds the packages, local and relative imports (so a cycle would show)."""
    graph = import_graph()
    assert {"qac", "qac.cli", "qac.spec", "qac.passes", "qac.passes.encode", "qac.targets.device_loader"} <= set(graph)
    assert graph.has_edge("qac.targets", "qac.targets.device_loader")  # `from . import device_loader as _devices`
    assert graph.has_edge("qac", "qac.compiler")  # inside `def compile`
    assert graph.has_edge("qac.passes.encode", "qac.kernels.encodings")


def test_no_import_cycles():
    graph = import_graph()
    cycles = []
    for component in sorted(map(sorted, nx.strongly_connected_components(graph))):
        if len(component) > 1:
            edges = nx.find_cycle(graph.subgraph(component), source=component[0])
            cycles.append(" → ".join([*(a for a, _ in edges), edges[0][0]]) + f"   (all of {', '.join(component)})")
    assert not cycles, "import cycles (function-local imports included):\n  " + "\n  ".join(cycles)


def loaded_heavy_modules(code: str) -> list[str]:
    script = code + f"\nimport sys\nprint(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return ast.literal_eval(proc.stdout.strip().splitlines()[-1])


def test_import_qac_loads_neither_qiskit_nor_torch():
    assert loaded_heavy_modules("import qac, qac.errors") == []


def test_help_of_qac_compile_shows_the_real_signature_without_loading_qiskit():
    """``help(qac.compile)`` showed only ``**options``: the facade now has the compiler's own
    signature (kept equal by this test) and a docstring naming every argument."""
    code = ("import inspect, pydoc, qac\n"
            "text = pydoc.render_doc(qac.compile)\n"
            "assert all(name in text for name in ('spec_or_path', 'target', 'seed', 'passes', 'pack', 'Returns')), text\n"
            "assert '**options' not in text and 'base_dir' in pydoc.render_doc(qac.load_spec)\n"
            "print(inspect.signature(qac.compile))")
    assert loaded_heavy_modules(code) == []
    import inspect

    import qac
    import qac.compiler
    import qac.spec

    assert inspect.signature(qac.compile) == inspect.signature(qac.compiler.compile)
    assert inspect.signature(qac.load_spec) == inspect.signature(qac.spec.load_spec)


def test_qac_help_loads_neither_qiskit_nor_torch():
    code = ("from qac.cli.main import main\n"
            "for argv in (['--help'], ['compile', '--help'], ['run', '--help'], ['verify', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit as stop:\n        assert stop.code == 0, stop.code")
    assert loaded_heavy_modules(code) == []


def test_every_package_is_installed_by_pyproject():
    """A package directory that pyproject's ``packages`` list misses is absent from a
    non-editable install (``qac.cli`` was, until issue 10)."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    roots = {name: ROOT / path for name, path in config["package-dir"].items()}
    found = set()
    for name, path in roots.items():
        for init in path.rglob("__init__.py"):
            relative = init.parent.relative_to(path).parts
            found.add(".".join((name, *relative)))
    assert found <= set(config["packages"]), sorted(found - set(config["packages"]))


#: Which packages each package may import (module level and inside functions alike): the design's
#: one-way flow as a table. ``kernels`` and ``ir`` are level-neutral (no run, pass or file code);
#: nothing below the CLI imports ``qac.cli``; the run path (``execution``, ``simulator``) never
#: imports ``passes``, the pipeline or the compiler; ``report`` reads files only. ``qac`` (the
#: root) is allowed where a module reads ``qac.__version__``; ``spec`` imports ``passes`` to parse
#: a spec's ``passes:`` pipeline text when it is loaded.
ALLOWED = {
    "qac.errors": set(),
    "qac.limits": {"qac.errors"},
    "qac.seeds": {"qac.limits"},
    "qac.kernels": {"qac.errors", "qac.ir"},
    "qac.ir": {"qac.errors", "qac.limits", "qac.kernels"},
    "qac.spec": {"qac.errors", "qac.limits", "qac.kernels", "qac.passes"},
    "qac.targets": {"qac.errors", "qac.kernels", "qac.spec"},
    "qac.passes": {"qac.errors", "qac.ir", "qac.kernels", "qac.limits", "qac.seeds", "qac.targets"},
    "qac.simulator": {"qac.errors", "qac.kernels", "qac.seeds"},
    "qac.execution": {"qac.errors", "qac.ir", "qac.kernels", "qac.limits", "qac.seeds", "qac.simulator",
                      "qac.targets"},
    "qac.artefacts": {"qac", "qac.errors", "qac.ir", "qac.kernels", "qac.limits", "qac.targets"},
    "qac.program": {"qac.artefacts", "qac.errors", "qac.execution", "qac.ir", "qac.kernels"},
    "qac.compiler": {"qac.errors", "qac.ir", "qac.limits", "qac.passes", "qac.program", "qac.spec", "qac.targets"},
    "qac.report": {"qac.artefacts", "qac.errors", "qac.kernels", "qac.limits", "qac.targets"},
    "qac.verify": {"qac.artefacts", "qac.errors", "qac.ir", "qac.kernels", "qac.seeds", "qac.targets"},
    "qac.runtime": {"qac", "qac.artefacts", "qac.errors", "qac.execution", "qac.kernels", "qac.limits", "qac.seeds",
                    "qac.targets"},
    "qac.torch": {"qac.artefacts", "qac.compiler", "qac.errors", "qac.execution", "qac.ir", "qac.kernels",
                  "qac.limits", "qac.seeds", "qac.spec", "qac.targets"},
    "qac.cli": {"qac", "qac.artefacts", "qac.compiler", "qac.errors", "qac.execution", "qac.ir", "qac.kernels",
                "qac.limits", "qac.passes", "qac.program", "qac.report", "qac.runtime", "qac.seeds", "qac.spec",
                "qac.targets", "qac.torch", "qac.verify"},
    "qac": {"qac.compiler", "qac.errors", "qac.execution", "qac.program", "qac.spec", "qac.targets"},
}


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_every_import_is_allowed_by_the_table():
    graph = import_graph()
    unknown = sorted({package_of(m) for m in graph} - set(ALLOWED))
    assert not unknown, f"packages the ALLOWED table does not know (add them with what they may import): {unknown}"
    bad = sorted(f"{a} imports {b}" for a, b in graph.edges()
                 if package_of(a) != package_of(b) and package_of(b) not in ALLOWED[package_of(a)])
    assert not bad, "imports the design forbids (tests/test_imports.py ALLOWED):\n  " + "\n  ".join(bad)


def test_the_table_catches_a_forbidden_import(tmp_path, monkeypatch):
    """The check itself: a run module that imports a pass is reported."""
    fake = tmp_path / "qac"
    (fake / "execution").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "execution" / "__init__.py").write_text("")
    (fake / "execution" / "bad.py").write_text("def f():\n    from qac.passes import normalize\n")
    (tmp_path / "passes").mkdir()
    (tmp_path / "passes" / "__init__.py").write_text("")
    (tmp_path / "passes" / "normalize.py").write_text("")
    monkeypatch.setitem(SOURCES, "qac", fake)
    monkeypatch.setitem(SOURCES, "qac.passes", tmp_path / "passes")
    monkeypatch.setitem(SOURCES, "qac.targets", tmp_path / "passes")
    graph = import_graph()
    assert graph.has_edge("qac.execution.bad", "qac.passes.normalize")
    assert "qac.passes" not in ALLOWED["qac.execution"]


def test_the_tree_reads_as_the_design():
    """``ls qac/`` shows packages and at most six loose modules (errors, limits, seeds and the
    public API); no module is over 450 lines; no "former home" shim is left."""
    loose = sorted(p.name for p in (ROOT / "qac").glob("*.py") if p.name != "__init__.py")
    assert loose == ["compiler.py", "errors.py", "limits.py", "program.py", "seeds.py"], loose
    long = {str(path.relative_to(ROOT)): n for path in module_files().values()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 450}
    assert not long, f"modules over 450 lines (split them by idea): {long}"
    shims = [str(p.relative_to(ROOT)) for p in module_files().values() if "Former home" in p.read_text(encoding="utf-8")]
    assert not shims, shims


def test_every_command_goes_through_the_one_error_handler():
    """``QacError`` → one line, exit 2; a bug → traceback and the report line, exit 1: every
    command (the lazy ones too) is wrapped by ``qac.cli.main.handle_errors``."""
    from qac.cli.main import LazyGroup, handle_errors, main

    ctx = main.make_context("qac", ["--help"], resilient_parsing=True)
    names = main.list_commands(ctx)
    assert {"compile", "run", "inspect", "status", "verify", "report", "model", "targets"} <= set(names)
    for name in names:
        command = main.get_command(ctx, name)
        assert getattr(command.callback, "__qac_handled__", False), f"qac {name} bypasses handle_errors"
        assert any(p.name == "debug" for p in command.params), f"qac {name} has no --debug"
    assert isinstance(main, LazyGroup) and callable(handle_errors)
