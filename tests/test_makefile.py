"""The Makefile refuses a Python too old for briefbot, or a .venv an older Python made, clearly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def old_python(folder: Path) -> Path:
    """A stand-in for Python 3.9: says its version, fails every version check."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "python"
    script.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Python 3.9.2"; exit 0; fi\n'
                      'exit 1\n')
    script.chmod(0o755)
    return script


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ))


def test_a_python_older_than_3_11_is_refused_up_front_naming_the_fix(tmp_path: Path) -> None:
    result = make("python-check", f"PYTHON={old_python(tmp_path / 'bin')}")
    assert result.returncode == 2
    assert "is not Python 3.11 or newer (Python 3.9.2)" in result.stderr
    assert "PYTHON=python3.11" in result.stderr


def test_a_venv_made_by_an_older_python_is_not_reused(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    old_python(venv / "bin")
    result = make("python-check", f"VENV={venv}", f"PYTHON={sys.executable}")
    assert result.returncode == 2
    assert "made by an older Python (Python 3.9.2)" in result.stderr
    assert "make clean" in result.stderr
