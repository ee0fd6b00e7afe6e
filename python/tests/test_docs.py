"""The README's Python session runs exactly as written; docs/PYTHON.md's code runs too."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT


def code_blocks(path, language="python"):
    with open(os.path.join(ROOT, path)) as f:
        text = f.read()
    return re.findall(r"```%s\n(.*?)```" % language, text, flags=re.DOTALL), text


def test_readme_session_runs_as_written():
    blocks, text = code_blocks("README.md")
    section = text[text.index("## Python"):]
    session = [b for b in blocks if b in section][0]
    assert len(session.strip().splitlines()) == 5
    env = {}
    exec(compile(session, "README.md", "exec"), env)
    ids, scores = env["ids"], env["scores"]
    assert ids.shape == (2, 10) and scores.shape == (2, 10)
    assert np.all(np.diff(scores, axis=1) <= 0)


def test_python_md_walkthrough_runs(tmp_path):
    blocks, _ = code_blocks("docs/PYTHON.md")
    assert blocks
    # The walk-through is one notebook: each block runs after the previous ones.
    script = "\n".join(blocks)
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path,
                            capture_output=True, text=True,
                            env=dict(os.environ, ENCORE_OBFUSCATION_KEY="0123456789abcdef" * 2))
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(os.environ.get("ENCORE_TEST_PIP") != "1",
                    reason="slow (builds the package again); set ENCORE_TEST_PIP=1")
def test_pip_install_into_a_venv(tmp_path):
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)],
                   check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--no-build-isolation", ROOT],
                   check=True, cwd=tmp_path, env=env)
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import encore; print(encore.__file__)"],
                         check=True, capture_output=True, text=True, cwd=tmp_path,
                         env=env).stdout
    assert str(venv) in out
