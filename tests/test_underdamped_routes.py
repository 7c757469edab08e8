"""The underdamped route as the issue names it (issue 19): ``effcoef.periodic.underdamped_coefficients``,
``effcoef periodic --friction G``, sweeps over the friction, U given as on the periodic route.

Numbers are checked against closed forms (U = 0: D = theta/gamma, V = F/gamma) and the
independent 1D quadratures of ``effcoef.reference.underdamped`` (Lifson-Jackson as gamma -> inf,
with the measured 1/gamma^2 correction bounded), never against the solver itself except where a
test is about plumbing (the same call through two entry points must give the same float).
"""

import json
import math

import pytest

import effcoef.periodic as periodic
import potentials
from effcoef.cli import main
from effcoef.landscape import LandscapeError, periodic_landscape
from effcoef.reference.underdamped import free_diffusion, lifson_jackson
from effcoef.sweep import sweep
from effcoef.underdamped import underdamped_coefficients


def run(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_reexported_from_the_periodic_route():
    assert periodic.underdamped_coefficients is underdamped_coefficients
    assert "underdamped_coefficients" in periodic.__all__


@pytest.mark.parametrize("theta, gamma, force", [(1.0, 0.3, 0.0), (0.5, 4.0, 0.7)])
def test_free_particle_through_the_periodic_module(theta, gamma, force):
    res = periodic.underdamped_coefficients("0*cos(2*pi*x)", theta, gamma, force=force)
    assert res.D == pytest.approx(free_diffusion(theta, gamma), rel=1e-10)
    assert res.V == pytest.approx(force / gamma, rel=1e-10, abs=1e-14)
    assert res.info["period"] == [1.0]          # the periodic route's default cell


def test_period_default_follows_the_periodic_route():
    # 1 if U is 1-periodic (as effective_coefficients), else 2 pi; a multiple of the minimal
    # period gives the same D: compare cos(2 pi x) (cell 1) with the rescaled cos(x) (cell 2 pi)
    assert periodic_landscape("cos(2*pi*x)").period == (1.0,)
    assert periodic_landscape("-cos(x)/2").period == (2 * math.pi,)
    assert periodic_landscape("-(cos(x1) + cos(x2))/2").period == (2 * math.pi,) * 2
    with pytest.raises(LandscapeError, match="not periodic.*give period"):
        periodic_landscape("cos(sqrt(2)*x)")
    a = underdamped_coefficients("-cos(x)/2", 1.0, 1.0)
    b = underdamped_coefficients("-cos(x)/2", 1.0, 1.0, period=4 * math.pi)
    assert b.D == pytest.approx(a.D, rel=1e-8)


def test_periodic_potential_object_accepted():
    pot = potentials.periodic_from_expression("-cos(x)/2", 2 * math.pi)
    a = periodic.underdamped_coefficients(pot, 1.0, 1.0)
    b = periodic.underdamped_coefficients("-cos(x)/2", 1.0, 1.0, period=2 * math.pi)
    assert a.D == b.D
    with pytest.raises(ValueError, match="differs"):
        periodic.underdamped_coefficients(pot, 1.0, 1.0, period=1.0)


def test_large_friction_approaches_lifson_jackson():
    # gamma D = LJ (1 + c/gamma^2 + ...), |c| about 1.4 for this U: at gamma = 200 the relative
    # deviation is below 1e-4 and above 1e-6 (the correction is there, the limit is right)
    ref = lifson_jackson("-cos(x)/2", 1.0)
    res = periodic.underdamped_coefficients("-cos(x)/2", 1.0, 200.0)
    dev = abs(200.0 * res.D / ref.value - 1.0)
    assert 1e-7 < dev < 1e-4


def test_cli_friction_text_and_json(capsys):
    code, out, err = run(["periodic", "--potential", "-cos(x)/2", "--theta", "1",
                          "--friction", "1"], capsys)
    assert code == 0, err
    assert "underdamped" in out and "D_eff" in out
    code, out, err = run(["periodic", "--potential", "-cos(x)/2", "--theta", "1",
                          "--friction", "1", "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    assert d["method"] == "underdamped" and d["info"]["gamma"] == 1.0
    assert d["D"] == underdamped_coefficients("-cos(x)/2", 1.0, 1.0).D
    assert d["accurate"] is True


def test_cli_friction_free_particle_and_force(capsys):
    code, out, err = run(["periodic", "--potential", "0*x", "--theta", "2", "--friction", "4",
                          "--force", "-1", "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    assert d["D"] == pytest.approx(0.5, rel=1e-10)
    assert d["V"] == pytest.approx(-0.25, rel=1e-10)


def test_cli_friction_eigenvalues(capsys):
    # U = 0 on the cell 2 pi: the generator's spectrum is gamma n + theta k^2/gamma (exact)
    code, out, err = run(["periodic", "--potential", "0*cos(x)", "--theta", "1",
                          "--period", repr(2 * math.pi), "--friction", "2", "--modes", "3",
                          "--json"], capsys)
    assert code == 0, err
    ev = json.loads(out)["eigenvalues"]
    exact = sorted(2.0 * n + k * k / 2.0 for n in range(4) for k in range(-3, 4))[:4]
    assert ev == pytest.approx(exact, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("args, match", [
    (["--friction", "-1"], "gamma"),
    (["--friction", "nan"], "gamma"),
    (["--friction", "1", "--degree", "4"], "--degree"),
])
def test_cli_friction_bad_input(args, match, capsys):
    code, out, err = run(["periodic", "--potential", "-cos(x)/2", "--theta", "1"] + args,
                         capsys)
    assert code == 2 and match in err and len(err.strip().splitlines()) == 1


def test_cli_strict_exit_3(capsys):
    code, out, err = run(["periodic", "--potential", "-cos(x)/2", "--theta", "1",
                          "--friction", "1", "--rtol", "1e-16", "--strict"], capsys)
    assert code == 3 and "accuracy" in err


def test_leading_minus_expression_is_a_value(capsys):
    # argparse alone reads "-cos(x)/2" as an option ("expected one argument")
    code, out, err = run(["periodic", "--potential", "-cos(2*pi*x)", "--theta", "1", "--json"],
                         capsys)
    assert code == 0, err
    assert json.loads(out)["method"] != "underdamped"


def test_sweep_over_friction_api(tmp_path):
    out = tmp_path / "u.jsonl"
    sweep({"theta": [1.0], "gamma": [0.5, 2.0]}, out, family="periodic:0*cos(x)",
          progress=False)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2
    for r in rows:
        assert r["status"] == "ok"
        assert r["D"] == pytest.approx(1.0 / r["gamma"], rel=1e-10)


def test_sweep_over_friction_cli_with_placeholder(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    code, _, err = run(["sweep", "--periodic", "-{V0}*cos(x)", "--param", "V0=0,0.5",
                        "--theta", "1", "--friction", "1,3", "-o", str(out), "--workers", "1",
                        "--no-progress"], capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)
    for r in rows:
        if r["V0"] == 0:
            assert r["D"] == pytest.approx(1.0 / r["friction"], rel=1e-10)
        else:
            direct = underdamped_coefficients("-0.5*cos(x)", 1.0, r["friction"], rtol=1e-8)
            assert r["D"] == pytest.approx(direct.D, rel=1e-12)


def test_sweep_gamma_placeholder_is_not_the_friction(tmp_path):
    # {gamma} in the template is a parameter of U: the overdamped route runs
    out = tmp_path / "g.jsonl"
    sweep({"theta": [1.0], "gamma": [0.0]}, out, family="periodic:{gamma}*cos(2*pi*x)",
          progress=False)
    row = json.loads(out.read_text().splitlines()[0])
    assert row["D"] == pytest.approx(1.0, rel=1e-10)     # U = 0 overdamped: D = theta


def test_sweep_friction_twice_refused(tmp_path):
    with pytest.raises(ValueError, match="once"):
        sweep({"theta": [1.0], "gamma": [1.0], "friction": [1.0]}, tmp_path / "x.jsonl",
              family="periodic:cos(x)", progress=False)


@pytest.mark.parametrize("V0, gamma", [(6.0, 3000.0), (6.0, 1000.0)])
def test_deep_wells_large_friction_not_silently_wrong(V0, gamma):
    """U = V0 cos x, theta = 1, large friction: gamma D -> Lifson-Jackson with the Kramers
    high-friction correction -omega_b^2/gamma^2 (omega_b^2 = V0).  At the natural Hermite
    scale the refined basis nested the base one: V0 = 10, gamma = 3000 said 'accurate' at
    1.7e-10 while 8e-4 off the limit.  The refined run now changes the scale (s = 0.9); a
    result that says accurate must agree with the limit to within the correction."""
    import warnings as _w

    from effcoef import AccuracyWarning

    lj = lifson_jackson(f"{V0}*cos(x)", 1.0).value
    with _w.catch_warnings():
        _w.simplefilter("ignore", AccuracyWarning)
        res = underdamped_coefficients(f"{V0}*cos(x)", 1.0, gamma)
    dev = gamma * res.D / lj - 1.0
    kramers = -V0 / gamma ** 2
    if res.accurate:
        assert abs(dev - kramers) <= 2 * abs(kramers) + 10 * res.rtol
    else:
        assert res.rel_error_estimate > res.rtol
