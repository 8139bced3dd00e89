"""The import contracts in pyproject.toml ([tool.importlinter]) hold.

The installed package maps ``fastscan.plans``, ``fastscan.devices`` and
``fastscan.sim`` to top-level folders, which import-linter's graph builder cannot
follow; the test lays the package out as one tree (a copy of the .py files) and
runs ``lint-imports`` on it in a subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_MAPPED = {"plans": "plans", "devices": "devices", "sim": "sim"}


def _one_tree(dest: Path) -> Path:
    package = dest / "fastscan"
    shutil.copytree(
        ROOT / "fastscan",
        package,
        ignore=shutil.ignore_patterns("__pycache__", "*.np*", "*.pt", "*.safetensors", "*.json"),
    )
    for sub, folder in _MAPPED.items():
        shutil.copytree(ROOT / folder, package / sub, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _lint(tree: Path, config: Path) -> subprocess.CompletedProcess:
    code = (
        "import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())"
    )
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [sys.executable, "-c", code, "--config", str(config), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_the_import_contracts_hold(tmp_path) -> None:
    tree = _one_tree(tmp_path / "tree")
    result = _lint(tree, ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken" in result.stdout


def test_a_broken_contract_is_reported(tmp_path) -> None:
    tree = _one_tree(tmp_path / "tree")
    bad = tree / "fastscan" / "metrics.py"
    bad.write_text(bad.read_text() + "\nimport fastscan.sim  # a core module importing sim\n")
    result = _lint(tree, ROOT / "pyproject.toml")
    assert result.returncode != 0
    assert "fastscan.metrics -> fastscan.sim" in result.stdout
