"""The README's Python examples run as written, and its commands are the ones CI uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_blocks_run(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples may write files (saved agents) into the working folder
    exec(compile(BLOCKS[index], f"README.md[python block {index}]", "exec"), {"__name__": "__readme__"})


def test_readme_has_the_two_commands_and_ci_runs_the_test_one():
    commands = re.findall(r"```bash\n([^\n]*python3 -m venv [^\n]*)\n```", README.read_text())
    assert len(commands) == 2
    main_job, tests = commands
    assert main_job.endswith("rewardgym showcase") and tests.endswith("pytest") and "libosmesa6" in tests
    assert tests in (README.parent / ".ci" / "run").read_text()
