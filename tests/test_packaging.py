"""Packaging: one version source, the metadata files, every subpackage installed."""

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

import effcoef

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    tomllib = pytest.importorskip("tomllib")          # Python >= 3.11
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_version_has_one_source():
    meta = _pyproject()
    assert "version" not in meta["project"] and "version" in meta["project"]["dynamic"]
    assert meta["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "effcoef.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]\d+|rc\d+|\.dev\d+)?", effcoef.__version__)
    # the installed distribution (editable or not) reports the same version
    assert importlib.metadata.version("effcoef") == effcoef.__version__
    cff = (ROOT / "CITATION.cff").read_text()
    assert re.search(rf"^version: {re.escape(effcoef.__version__)}$", cff, re.M), \
        "CITATION.cff: bump its version with effcoef.__version__"


def test_every_subpackage_is_installed():
    """setuptools' package discovery with pyproject's settings finds every package directory
    (a non-editable install, as in .ci/run, would otherwise miss e.g. effcoef.models)."""
    from setuptools import find_packages
    cfg = _pyproject()["tool"]["setuptools"]["packages"]["find"]
    found = set(find_packages(str(ROOT), include=cfg["include"]))
    dirs = {".".join(p.parent.relative_to(ROOT).parts)
            for pkg in ("effcoef", "potentials") for p in (ROOT / pkg).rglob("__init__.py")}
    assert dirs <= found, dirs - found
    assert {"effcoef.models", "effcoef.reference"} <= found


def test_license_changelog_citation():
    lic = (ROOT / "LICENSE").read_text()
    assert lic.startswith("MIT License") and "effcoef developers" in lic
    assert _pyproject()["project"]["license"] == {"text": "MIT"}
    log = (ROOT / "CHANGELOG.md").read_text()
    assert "## Unreleased" in log and f"## {effcoef.__version__} - " in log
    cff = (ROOT / "CITATION.cff").read_text()
    assert cff.startswith("cff-version: 1.2.0") and "preferred-citation:" in cff


def test_version_flag_and_python_m():
    out = subprocess.run([sys.executable, "-m", "effcoef", "--version"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"effcoef {effcoef.__version__}"
    out = subprocess.run([sys.executable, "-m", "effcoef", "coefficients", "--family", "A",
                          "--gamma", "2", "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert '"D":' in out.stdout


def test_ci_runs_the_readme_test_command_verbatim():
    """.ci/run calls the README's second set-up command as written (and then the heavy tests)."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    cmd = blocks[1].strip()
    assert cmd.startswith("python3 -m venv .venv") and "python -m pytest -q" in cmd
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert cmd in ci, "the README's test command and .ci/run differ"
    assert any(ln.strip() == "python -m pytest -q -m heavy" for ln in ci)
    assert ci.index(cmd) < [ln.strip() for ln in ci].index("python -m pytest -q -m heavy")
