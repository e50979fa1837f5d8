"""`qac report`: the page's numbers are the run's, every image decodes, a browser renders it,
and directories it cannot read are one line and exit 2 with nothing written."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from qac.cli.main import main

SPEC = """name: tiny_two_heads
seed: 3
heads: 2
mask: causal
shots: 256
Q: {random: {shape: [3, 8], seed: 1}}
K: {random: {shape: [3, 8], seed: 2}}
V: {random: {shape: [3, 4], seed: 3}}
"""
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0")


class Page(HTMLParser):
    """Tables (by id: rows of cell texts), images (src), spans with data-key, scripts, links."""

    def __init__(self, text: str):
        super().__init__()
        self.tables, self.images, self.values, self.scripts, self.links = {}, [], {}, 0, []
        self._table = self._row = self._cell = self._key = None
        self.svg_depth, self.svgs, self._svg = 0, [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.svg_depth:
            self._svg.append(self.get_starttag_text())
        if tag == "svg":
            self.svg_depth += 1
            if self.svg_depth == 1:
                self._svg = [self.get_starttag_text()]
        elif tag == "table":
            self._table = self.tables.setdefault(attrs.get("id", f"table{len(self.tables)}"), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag == "span" and "data-key" in attrs:
            self._key, self._cell = attrs["data-key"], []
        elif tag == "script":
            self.scripts += 1
        for name in ("href", "src"):
            if name in attrs and tag != "img":
                self.links.append(attrs[name])

    def handle_endtag(self, tag):
        if self.svg_depth:
            self._svg.append(f"</{tag}>")
            if tag == "svg":
                self.svg_depth -= 1
                if not self.svg_depth:
                    self.svgs.append("".join(self._svg))
        if tag in ("td", "th") and self._cell is not None and self._row is not None and self._key is None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "span" and self._key is not None:
            self.values[self._key] = "".join(self._cell).strip()
            self._key = self._cell = None
        elif tag == "table":
            self._table = self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self.svg_depth:
            self._svg.append(data)


def fmt(value) -> str:
    from qac.report.page import fmt as page_fmt

    return page_fmt(value)


def run_dir(root: Path, name: str, *args) -> Path:
    spec = root / "spec.yaml"
    spec.write_text(SPEC)
    out = root / name
    result = CliRunner().invoke(main, ["run", str(spec), "--shots", "200", "-o", str(out), "--report", *args])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def ideal(tmp_path_factory) -> Path:
    return run_dir(tmp_path_factory.mktemp("ideal"), "run")


@pytest.fixture(scope="module")
def noisy(tmp_path_factory) -> Path:
    return run_dir(tmp_path_factory.mktemp("noisy"), "run", "--target", "iqm_garnet", "--noise")


def load(directory: Path):
    arrays = dict(np.load(directory / "result.npz"))
    return arrays, json.loads((directory / "run.json").read_text())


def check_images(page: Page) -> None:
    from PIL import Image

    assert page.images
    for src in page.images:
        assert src.startswith("data:image/png;base64,"), src[:40]
        image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1], validate=True)))
        image.load()
        assert image.size[0] > 50 and image.size[1] > 50
    for svg in page.svgs:
        ET.fromstring(svg)


def check_self_contained(text: str, page: Page) -> None:
    assert page.scripts == 0
    assert all(link.startswith("#") for link in page.links), page.links
    style = text[text.index("<style>"):text.index("</style>")]
    assert "&gt;" not in style and "&amp;" not in style  # the stylesheet is not HTML-escaped
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text


def test_ideal_run_report_shows_the_result_numbers(ideal):
    arrays, run = load(ideal)
    text = (ideal / "report.html").read_text()
    page = Page(text)
    check_images(page)
    check_self_contained(text, page)
    # estimated weights are softmax of the estimated scores; exact ones of numpy's scores
    from qac.artefacts.rundir import attention_weights
    from qac.kernels.attention import reference_attention

    np.testing.assert_allclose(arrays["weights"], attention_weights(arrays["scores"]))
    _, _, values = exact_inputs(ideal)
    for h in range(2):  # the exact weights times V are numpy's exact output
        np.testing.assert_allclose(arrays["exact_weights"][h] @ values[:, 2 * h:2 * h + 2],
                                   arrays["exact"][:, 2 * h:2 * h + 2], atol=1e-12)
    errors = {row[0]: row[1:] for row in page.tables["error-table"][1:]}
    error = arrays["output"] - arrays["exact"]
    assert errors["max |estimate − exact|"] == [fmt(float(np.max(np.abs(error))))]
    assert errors["max reported σ"] == [fmt(float(np.max(arrays["stderr"])))]
    assert errors["share within 2σ"] == [fmt(run["errors"]["output"]["within_2_sigma"])]
    assert run["errors"]["output"]["within_2_sigma"] == pytest.approx(
        np.mean(np.abs(error) <= 2 * arrays["stderr"] + 1e-12))
    calibration = page.tables["calibration-table"][1:]
    for row in calibration:
        k = float(row[0])
        assert row[2] == fmt(float(np.mean(np.abs(error) <= k * arrays["stderr"] + 1e-12)))
    assert [row[1] for row in calibration] == ["0.6827", "0.9545", "0.9973"]  # 2Φ(k) − 1
    for h in range(2):
        visible = arrays["visible"][h]
        diff = (arrays["weights"][h] - arrays["exact_weights"][h])[visible]
        assert page.values[f"head{h}.max_diff"] == fmt(float(np.max(np.abs(diff))))
    kernels = page.tables["kernel-table"]
    header = kernels[0]
    for row, kernel in zip(kernels[1:], run["kernels"], strict=True):
        cells = dict(zip(header, row))
        assert cells["kernel"] == kernel["kernel"]
        assert cells["encoding"] == kernel["encoding"] and cells["estimator"] == kernel["estimator"]
        for column, key in (("qubits", "qubits"), ("routed 2q gates", "two_qubit_gates"), ("depth", "depth"),
                            ("ESP", "esp"), ("circuits", "circuits"), ("shots", "shots")):
            assert cells[column] == fmt(kernel[key]), column
        assert kernel["shots"] == 200 * kernel["pairs"]
    assert "all-to-all" in text  # aer has no coupling map
    assert json.loads((ideal / "manifest.json").read_text())["pipeline"] in text
    timings = json.loads((ideal / "timings.json").read_text())
    shown = {r[0]: r[1] for r in page.tables["timings-table"][1:]}
    assert list(shown) == ["frontend", "normalize", "encode", "estimate", "layout", "resources", "run", "total"]
    assert shown["run"] == f"{timings['run']:.3f}" and shown["total"] == f"{sum(timings.values()):.3f}"
    # an ideal auto run draws from the closed form (issue 22) and says so
    assert run["target"]["name"] == "aer" and run["engine"] == "auto (closed form)" and run["noise"] is False
    assert run["engine_path"].startswith("closed form")
    assert run["seed"] == 3 and run["shots"] == 200 and run["qac_version"]
    np.testing.assert_allclose(arrays["exact"], reference_attention(*exact_inputs(ideal), heads=2, mask="causal"))


def exact_inputs(directory: Path):
    import qac

    spec = qac.load_spec(directory.parent / "spec.yaml")
    return spec.Q, spec.K, spec.V


def test_noisy_run_report_compares_raw_and_mitigated(noisy):
    arrays, run = load(noisy)
    text = (noisy / "report.html").read_text()
    page = Page(text)
    check_images(page)
    check_self_contained(text, page)
    assert run["noise"] is True and run["mitigation"] is True and run["target"]["name"] == "iqm_garnet"
    header, *rows = page.tables["error-table"]
    assert header == ["quantity", "mitigated", "raw"]
    errors = {row[0]: row[1:] for row in rows}
    raw_error = arrays["raw_output"] - arrays["exact"]
    assert errors["max |estimate − exact|"] == [fmt(run["errors"]["output"]["max_error"]),
                                               fmt(float(np.max(np.abs(raw_error))))]
    assert errors["RMS error"][1] == fmt(float(np.sqrt(np.mean(raw_error**2))))
    calibration = page.tables["calibration-table"]
    assert calibration[0][2:] == ["mitigated", "raw"]
    assert calibration[1][3] == fmt(float(np.mean(np.abs(raw_error) <= arrays["raw_stderr"] + 1e-12)))
    fits = page.tables["mitigation-table"][1:]
    assert [row[0] for row in fits] == sorted(run["mitigation_fits"])
    for row in fits:
        assert row[1] == fmt(run["mitigation_fits"][row[0]]["attenuation"])
    assert "Coupling map of iqm_garnet" in text
    for row, kernel in zip(page.tables["kernel-table"][1:], run["kernels"], strict=True):
        assert row[-1] == ", ".join(map(str, kernel["physical_qubits"]))


def test_run_directory_is_byte_identical_for_the_same_seed(ideal, tmp_path):
    again = run_dir(tmp_path, "again")
    names = sorted(str(p.relative_to(ideal)) for p in ideal.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(again)) for p in again.rglob("*") if p.is_file())
    for name in names:
        if name not in ("timings.json", "report.html"):  # wall-clock seconds differ
            assert (ideal / name).read_bytes() == (again / name).read_bytes(), name


def test_build_directory_report(tmp_path):
    (tmp_path / "spec.yaml").write_text(SPEC)
    build = tmp_path / "build"
    assert CliRunner().invoke(main, ["compile", str(tmp_path / "spec.yaml"), "-t", "iqm_garnet",
                                     "-o", str(build)]).exit_code == 0
    result = CliRunner().invoke(main, ["report", str(build), "-o", str(tmp_path / "page.html")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "page.html").read_text()
    page = Page(text)
    check_images(page)
    manifest = json.loads((build / "manifest.json").read_text())
    assert "attention" not in page.tables and "Attention weights per head" not in text
    for row, kernel in zip(page.tables["kernel-table"][1:], manifest["kernels"], strict=True):
        assert row[0] == kernel["kernel"] and row[5] == fmt(kernel["two_qubit_gates"])
        assert row[11] == fmt(256 * kernel["pairs"])  # planned: the spec's shots per pair
    assert "Coupling map of iqm_garnet" in text and "binary_interference_d4" in text
    assert not (build / "report.html").exists()


def test_model_run_section(ideal, tmp_path):
    directory = tmp_path / "with_model"
    shutil.copytree(ideal, directory)
    layers = [{"layer": i, "name": f"h.{i}.attn", "max_error": 0.01 * (i + 1), "rms_error": 0.004 * (i + 1),
               "within_2_sigma": 0.95, "shots": 1024, "circuits": 40} for i in range(3)]
    (directory / "model_run.json").write_text(json.dumps({"format": 1, "kind": "model_run", "model": "gpt2-tiny",
                                                          "layers": layers}))
    assert CliRunner().invoke(main, ["report", str(directory)]).exit_code == 0
    page = Page((directory / "report.html").read_text())
    check_images(page)
    rows = page.tables["model-table"][1:]
    assert [r[2] for r in rows] == [fmt(row["max_error"]) for row in layers]


def one_line_exit_2(directory: Path, *extra) -> str:
    before = sorted(p.name for p in directory.parent.rglob("*")) if directory.parent.exists() else []
    result = CliRunner().invoke(main, ["report", str(directory), *extra])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in directory.parent.rglob("*")) == before  # nothing written
    return lines[0]


def test_bad_directories_are_one_line_and_exit_2(ideal, tmp_path):
    assert "does not exist" in one_line_exit_2(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    assert "not a qac build or run directory" in one_line_exit_2(tmp_path / "empty")
    old = tmp_path / "old"
    old.mkdir()
    shutil.copy(ideal / "result.npz", old / "result.npz")
    assert "older qac" in one_line_exit_2(old)

    def damaged(name: str, change) -> str:
        directory = tmp_path / f"damaged_{name.replace('.', '_')}_{len(list(tmp_path.iterdir()))}"
        shutil.copytree(ideal, directory)
        (directory / "report.html").unlink()
        change(directory / name)
        return one_line_exit_2(directory)

    assert "manifest.json is damaged" in damaged("manifest.json", lambda p: p.write_text('{"format": 1, "spec": '))
    assert "run.json lacks" in damaged("run.json", lambda p: p.write_text('{"format": 1}'))
    assert "'kernels' is not a list of objects" in damaged("run.json", lambda p: p.write_text(
        json.dumps({**json.loads(p.read_text()), "kernels": 5})))
    assert "format 99" in damaged("run.json", lambda p: p.write_text(
        json.dumps({**json.loads(p.read_text()), "format": 99})))
    assert "result.npz is damaged" in damaged("result.npz", lambda p: p.write_bytes(p.read_bytes()[:300]))

    def drop_weights(path: Path):
        arrays = dict(np.load(path))
        del arrays["weights"]
        np.savez(path, **arrays)

    assert "lacks the arrays weights" in damaged("result.npz", drop_weights)
    assert "bindings.npz is missing" in damaged("bindings.npz", Path.unlink)
    assert "model_run.json" in damaged("model_run.json", lambda p: p.write_text('{"format": 1, "model": "m", '
                                                                                '"layers": [{"layer": 0, "max_error": "big", '
                                                                                '"rms_error": 1, "within_2_sigma": 1}]}'))


def test_a_page_replaces_only_an_earlier_report(ideal, tmp_path):
    page = ideal / "report.html"
    before = page.read_text()
    assert CliRunner().invoke(main, ["report", str(ideal)]).exit_code == 0  # an earlier report is replaced
    assert page.read_text().split("<tbody>")[1] == before.split("<tbody>")[1]
    theirs = tmp_path / "thesis.tex"
    theirs.write_text("\\documentclass{article}")
    result = CliRunner().invoke(main, ["report", str(ideal), "-o", str(theirs)])
    assert result.exit_code == 2 and "not a qac report" in result.output
    assert theirs.read_text() == "\\documentclass{article}"


def test_without_matplotlib_it_says_how_to_install(ideal, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    directory = tmp_path / "run"
    shutil.copytree(ideal, directory)
    (directory / "report.html").unlink()
    line = one_line_exit_2(directory)
    assert "pip install -e '.[report]'" in line and "pip install 'qac[report]'" in line
    (tmp_path / "spec.yaml").write_text(SPEC)  # `qac run --report` refuses before running anything
    result = CliRunner().invoke(main, ["run", str(tmp_path / "spec.yaml"), "-o", str(tmp_path / "out"), "--report"])
    assert result.exit_code == 2 and "qac[report]" in result.output and not (tmp_path / "out").exists()


def test_heavy_hex_numbering_is_drawn_as_the_chip():
    from qac.report.device import lattice_positions

    # two rows of five joined by bridges 5 (under 0) and 6 (under 4), the IBM numbering
    edges = [(0, 1), (1, 2), (2, 3), (3, 4), (7, 8), (8, 9), (9, 10), (10, 11), (0, 5), (5, 7), (4, 6), (6, 11)]
    positions = lattice_positions(12, edges)
    assert positions[5] == (0.0, -1.0) and positions[7] == (0.0, -2.0) and positions[11] == (4.0, -2.0)
    assert lattice_positions(4, [(0, 2), (1, 3), (0, 3)]) is None  # not a row-and-bridge numbering


def test_the_page_renders_in_headless_chromium(noisy, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("headless Chromium is needed for this check: run `bash .ci/chromium.sh` (Debian's chromium)")
    from PIL import Image

    shot = tmp_path / "page.png"
    url = (noisy / "report.html").resolve().as_uri()
    # one launch: the screenshot, the console on stderr, and the DOM it loaded on stdout
    proc = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--screenshot={shot}", "--dump-dom", "--window-size=1280,2000",
                           url], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "tiny_two_heads" in proc.stdout and 'id="kernel-table"' in proc.stdout  # the page loaded
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=float)
    assert pixels.shape[:2] == (2000, 1280)
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200  # not blank


def test_a_packed_build_draws_its_copies_bound_as_they_run(tmp_path):
    import qac
    from qac.report.drawings import drawings, first_row
    from qac.report.load import load as load_bundle

    (tmp_path / "spec.yaml").write_text(SPEC)
    compiled = qac.compile(tmp_path / "spec.yaml", "iqm_garnet", passes="normalize,encode{method=binary},"
                           "estimate{method=interference},layout{optimization_level=1},pack{copies=2}")
    compiled.save(tmp_path / "build")
    bundle = load_bundle(tmp_path / "build")
    placement = bundle.manifest["placement"]
    (base, info), = placement.items()
    kernel, row, copies = first_row(bundle, info["packed_template"])
    assert copies == 2 and kernel == compiled.kernels[0].name
    np.testing.assert_array_equal(row, compiled.pubs()[0][1][0])  # the first packed circuit's values
    drawn = drawings(bundle)
    assert [d["template"] for d in drawn] == [info["packed_template"]] and drawn[0]["bound"]
    from qac.report.page import physical_qubits

    shown = physical_qubits(bundle, bundle.manifest["kernels"][0])
    assert shown == " | ".join(", ".join(map(str, r["physical_qubits"])) for r in info["regions"])


def eval_directory(tmp_path) -> Path:
    """An eval.json as `qac eval -o` writes it (schema in docs/report.md): two targets, two shot counts."""
    settings = []
    for target, noise in (("aer", False), ("ibm_fez", True)):
        for shots, delta in ((1024, -0.02), (8192, -0.005)):
            settings.append({"target": target, "noise": noise, "mitigation": noise, "shots": shots, "exact": False,
                             "layers": "all", "heads": "all", "metric": 0.8 + delta, "delta": delta,
                             "ci_low": delta - 0.01, "ci_high": delta + 0.01, "cosine_mean": 0.9995,
                             "cosine_worst": 0.998, "coverage": 0.95, "wall_seconds": 12.5,
                             "cost": {"circuits": 1000, "shots": shots * 1000, "two_qubit_gates": 42000,
                                      "device_seconds": 300.0 if noise else None}})
    directory = tmp_path / "eval"
    directory.mkdir()
    (directory / "eval.json").write_text(json.dumps({"format": 1, "kind": "eval", "task": "pairs", "metric": "spearman",
                                                     "model": "minilm", "data": "pairs.tsv",
                                                     "examples": {"train": 0, "test": 30},
                                                     "classical": {"spearman": 0.8}, "settings": settings,
                                                     "device_time_assumptions": "stated"}))
    return directory


def test_eval_section_shows_the_sweep(tmp_path):
    directory = eval_directory(tmp_path)
    assert CliRunner().invoke(main, ["report", str(directory)]).exit_code == 0
    text = (directory / "report.html").read_text()
    page = Page(text)
    check_images(page)
    check_self_contained(text, page)
    rows = page.tables["eval-table"][1:]
    data = json.loads((directory / "eval.json").read_text())
    assert [(r[1], r[2], r[3]) for r in rows] == [(fmt(s["shots"]), fmt(s["metric"]), format(s["delta"], "+.4g"))
                                                  for s in data["settings"]]
    assert rows[2][0] == "ibm_fez noisy mitigated" and rows[2][11] == "300" and rows[0][11] == "—"
    assert page.values["eval-classical"] == "0.8"
    (directory / "eval.json").write_text(json.dumps({**data, "settings": [{"target": "aer"}]}))
    assert "'settings' must be a list of objects" in one_line_exit_2(directory)


def test_the_eval_page_renders_in_headless_chromium(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("headless Chromium is needed for this check: run `bash .ci/chromium.sh` (Debian's chromium)")
    directory = eval_directory(tmp_path)
    assert CliRunner().invoke(main, ["report", str(directory)]).exit_code == 0
    proc = subprocess.run([chromium, *CHROMIUM_FLAGS, "--dump-dom", (directory / "report.html").resolve().as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'id="eval-table"' in proc.stdout and "Task metric: pairs" in proc.stdout
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
