"""``qac run --runtime local -o RUN_DIR`` and ``qac run --resume RUN_DIR`` through the CLI (issue 15):
the fake backend's local mode, offline; a resumed run submits nothing and gives the same bytes."""

from __future__ import annotations

import json

from click.testing import CliRunner

from qac.cli.main import main


def test_a_local_runtime_run_resumes_to_the_same_result(example_spec, tmp_path):
    run_dir = tmp_path / "fez"
    runner = CliRunner()
    first = runner.invoke(main, ["run", str(example_spec), "-t", "ibm_fez", "--runtime", "local", "-o", str(run_dir),
                                 "--max-circuits-per-job", "16", "--shots", "256"])
    assert first.exit_code == 0, first.output
    assert "will run" in first.output and (run_dir / "runtime").is_dir()
    before = (run_dir / "result" / "result.npz").read_bytes()
    run = json.loads((run_dir / "result" / "run.json").read_text())
    assert run["engine"] == "runtime" and run["target"]["name"] == "ibm_fez"
    again = runner.invoke(main, ["run", "--resume", str(run_dir)])
    assert again.exit_code == 0, again.output
    assert (run_dir / "result" / "result.npz").read_bytes() == before
    jobs = [json.loads(p.read_text()) for p in sorted((run_dir / "runtime").glob("stage-*/jobs/job-*.json"))]
    assert len(jobs) >= 2 and all(job["status"] == "done" and job["attempts"] == 1 for job in jobs)  # none ran twice


def test_runtime_needs_a_new_run_dir_and_resume_needs_a_runtime_one(example_spec, tmp_path):
    runner = CliRunner()
    missing = runner.invoke(main, ["run", str(example_spec), "-t", "ibm_fez", "--runtime", "local"])
    assert missing.exit_code == 2 and "-o RUN_DIR" in missing.output
    (tmp_path / "plain").mkdir()
    wrong = runner.invoke(main, ["run", "--resume", str(tmp_path / "plain")])
    assert wrong.exit_code == 2 and "not a runtime run directory" in wrong.output
    assert len(wrong.output.strip().splitlines()) == 1
