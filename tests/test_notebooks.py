"""Execute every notebook in notebooks/ and fail on any error or failed assertion.

The notebooks reproduce paper 004's figures and assert the numbers they show
(accuracy against the closed forms, parity, Eyring-Kramers limit...).  They run in
the current environment's ``python3`` kernel, with the Agg matplotlib backend.
Marked ``heavy``: not in the default run, run by ``.ci/run`` (``python -m pytest -m heavy``).
"""

from pathlib import Path

import pytest

# skipped only if absent: the test extra (pip install '.[test]') installs them
nbformat = pytest.importorskip("nbformat")
NotebookClient = pytest.importorskip("nbclient").NotebookClient

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb"))


@pytest.mark.heavy          # ~80 s together on 2 cores: run by .ci/run after the default run
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch):
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    # kernel "python3": ipykernel's own spec (found in the environment's share/jupyter, or
    # ipykernel's native spec); jupyter_client launches it with sys.executable, so no
    # `ipykernel install --user` is needed and the kernel sees this environment's packages
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NB_DIR)}})
    client.execute()                     # raises CellExecutionError on any error / assertion


def test_notebooks_exist_and_have_no_outputs():
    names = {p.name for p in NOTEBOOKS}
    assert {"case_A.ipynb", "case_B.ipynb", "case_C.ipynb", "beyond_the_paper.ipynb",
            "periodic.ipynb", "underdamped.ipynb"} <= names
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path.name
