"""scripts/run on a clean copy of the project: set up once, then no setup and no network."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import tauro

ROOT = Path(__file__).resolve().parent.parent


def _copy_of_the_project(target: Path) -> Path:
    """The project's files as a fresh clone of the working tree would have them."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in listed:
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(source.read_bytes())
            (target / name).chmod(source.stat().st_mode)
    return target


def _run(project: Path, venv: Path, *, offline: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["TAURO_VENV"] = str(venv)
    if offline:  # any attempt to reach a package index fails at once
        env.update(
            PIP_NO_INDEX="1",
            PIP_FIND_LINKS="",
            http_proxy="http://127.0.0.1:9",
            https_proxy="http://127.0.0.1:9",
        )
    return subprocess.run(
        [str(project / "scripts" / "run"), "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_run_sets_up_once_then_starts_offline_and_quietly(tmp_path: Path) -> None:
    project = _copy_of_the_project(tmp_path / "TauroBot")
    venv = tmp_path / "venv"

    first = _run(project, venv, offline=False)
    assert first.returncode == 0, first.stderr
    assert "setup: installing requirements/run.txt" in first.stdout
    assert first.stdout.strip().endswith(tauro.__version__)
    stamp = (venv / ".tauro-setup").read_text()

    second = _run(project, venv, offline=True)
    assert second.returncode == 0, second.stderr
    assert "setup" not in second.stdout + second.stderr  # nothing was set up again
    assert second.stdout.strip() == f"TauroBot {tauro.__version__}"
    assert (venv / ".tauro-setup").read_text() == stamp

    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n# changed\n")
    third = _run(project, venv, offline=True)  # set up again, from what is installed
    assert third.returncode == 0, third.stderr
    assert "setup: installing requirements/run.txt" in third.stdout
    assert (venv / ".tauro-setup").read_text() != stamp

    # A dependency added to pyproject.toml without running scripts/lock: the setup stops.
    declared = pyproject.read_text().replace(
        "dependencies = [", 'dependencies = [\n    "tauro-unlocked-dependency>=1",', 1
    )
    pyproject.write_text(declared)
    fourth = _run(project, venv, offline=True)
    assert fourth.returncode != 0
    assert "requirements/run.txt does not match pyproject.toml" in fourth.stderr
    assert "run scripts/lock and commit requirements/" in fourth.stderr
    assert tauro.__version__ not in fourth.stdout  # the bot was not started
