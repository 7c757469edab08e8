"""The command line as a newcomer meets it: --version, help texts, labels, pipes, hints."""

import subprocess
import sys

import pytest

from effcoef import cli


def _run(*args, close_stdout=False):
    cmd = [sys.executable, "-m", "effcoef", *args]
    if close_stdout:                       # the reader has gone away (effcoef ... | head)
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdout.close()
        err = p.stderr.read().decode()
        p.wait(timeout=120)
        return p.returncode, "", err
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return out.returncode, out.stdout, out.stderr


def test_closed_pipe_ends_quietly():
    rc, _, err = _run("coefficients", "--family", "A", "--gamma", "3", "--json",
                      close_stdout=True)
    assert rc == 141 and "Traceback" not in err and "BrokenPipe" not in err, (rc, err)


def test_help_texts(capsys):
    with pytest.raises(SystemExit):
        cli.main(["coefficients", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "in one dimension" not in text and "1, 2 or 3" in text
    assert "--method {weighted,schrodinger,general}" in text and "'schrodinger' (the paper's" in text
    with pytest.raises(SystemExit):
        cli.main(["sweep", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 1e-08)" in text and "A, B or C" in text


@pytest.mark.parametrize("args,odd", [
    (["--family", "A", "--gamma", "4"], True),                       # even W: odd sector only
    (["--potential", "v**4/4 - v**2/2 - 0.3*v", "--theta", "0.3"], False),   # no symmetry
    (["--dim", "3", "--family", "S", "--gamma", "5"], False),        # radial l = 1 channel
])
def test_eigenvalue_label(args, odd, capsys):
    assert cli.main(["coefficients", *args]) == 0
    out = capsys.readouterr().out
    assert ("lambda odd" in out) is odd, out


def test_odd_sector_needs_a_1d_parity():
    class R:
        pass
    r = R()
    assert not cli._odd_sector(r)                     # no parity (radial, 2D)
    r.parity = [1, -1, -1]
    assert cli._odd_sector(r)
    r.dim = 2
    assert not cli._odd_sector(r)
    r.dim, r.parity = 1, [1, -1, 1]
    assert not cli._odd_sector(r)


def test_version():
    rc, out, _ = _run("--version")
    assert rc == 0 and out.startswith("effcoef ")
