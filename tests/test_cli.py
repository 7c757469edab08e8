"""The command line: JSON output checked against the quadrature reference, one-line errors."""

import json
import subprocess
import sys

import pytest

import potentials as P
from effcoef.cli import main
from effcoef.reference.quadrature import quadrature_coefficients


def run(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_family_json_matches_quadrature(capsys):
    code, out, err = run(["coefficients", "--family", "C", "--gamma", "5", "--delta", "2",
                          "--json", "--rtol", "1e-10"], capsys)
    assert code == 0 and err == ""
    data = json.loads(out)
    for key in ("D", "K", "V", "eigenvalues", "rel_error_estimate", "error_method", "D_partial"):
        assert key in data
    pot = P.case_c(5, 2)
    ref = quadrature_coefficients(pot, pot.theta)
    assert abs(data["D"] - ref.D) <= 1e-10 * ref.D
    assert abs(data["K"] - ref.K) <= 1e-10 * ref.K
    assert abs(data["V"] - ref.V) <= 1e-12
    assert data["accurate"] is True


def test_expression_json(capsys):
    code, out, _ = run(["coefficients", "--potential", "v**2/2", "--theta", "0.5", "--modes",
                        "4", "--json"], capsys)
    data = json.loads(out)
    assert code == 0
    assert abs(data["D"] - 0.5) <= 1e-12 and abs(data["K"] - 1.0) <= 1e-12
    assert abs(data["eigenvalues"][1] - 1.0) <= 1e-11


def test_original_variables_flag(capsys):
    code, out, _ = run(["coefficients", "--family", "A", "--gamma", "10", "--original",
                        "--json"], capsys)
    pot = P.case_a(10, rescaled=False)
    ref = quadrature_coefficients(pot, 1.0)
    assert code == 0 and abs(json.loads(out)["D"] - ref.D) <= 1e-8 * ref.D


@pytest.mark.parametrize("args,needle", [
    (["--potential=-v**2", "--theta", "1"], "not confining"),
    (["--potential", "v**3", "--theta", "1"], "not confining"),
    (["--potential", "v**2", "--theta", "0"], "theta"),
    (["--potential", "v**2", "--theta", "nan"], "theta"),
    (["--potential", "__import__('os').system('true')", "--theta", "1"], "__import__"),
    (["--potential", "v.real", "--theta", "1"], "attribute"),
    (["--potential", "v**2"], "--theta"),
    (["--family", "A"], "--gamma"),
    (["--family", "A", "--gamma", "-1"], "gamma"),
    (["--family", "B", "--gamma", "2", "--delta", "1"], "delta"),
])
def test_bad_input_one_line_error(args, needle, capsys):
    code, out, err = run(["coefficients"] + args, capsys)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("effcoef: error:")
    assert needle.lower() in lines[0].lower()


def test_strict_exit_code(capsys):
    """P2 elements cannot reach 1e-13 within the automatic mesh refinement (h_scale down to
    0.05): the estimate says so and --strict exits with 3."""
    code, _, err = run(["coefficients", "--family", "A", "--gamma", "10", "--degree", "2",
                        "--rtol", "1e-13", "--strict"], capsys)
    assert code == 3 and "accuracy" in err


def test_console_script_entry_point():
    """The installed `effcoef` entry point (python -m effcoef.cli as a stand-in)."""
    proc = subprocess.run([sys.executable, "-m", "effcoef.cli", "coefficients", "--family",
                           "A", "--gamma", "1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "D         :" in proc.stdout
