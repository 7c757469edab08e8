"""Generate notebooks/underdamped.ipynb (underdamped Langevin in periodic potentials, issue 19).

    python notebooks/make_underdamped_notebook.py     # rewrites the notebook, without outputs

gamma D against gamma over [1e-3, 1e3] for U = V0 cos(x), V0/theta in {0.5, 2, 5}, with the
overdamped (Lifson-Jackson) and energy-diffusion (Hairer-Pavliotis) asymptotes and BAOAB Monte
Carlo points on one figure; the separable and non-separable 2D potentials.  Every number shown
is asserted.  Runs in about a minute on the project's 2-core machine.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
NAME = "underdamped.ipynb"

CELLS = [
    ("md", r"""# Underdamped Langevin dynamics in a periodic potential: $D$ across the whole friction range

$dx = p\,dt$, $dp = -U'(x)\,dt - \gamma p\,dt + \sqrt{2\gamma\theta}\,dB$, $x$ on the torus.
The effective diffusion is $D = \int_0^\infty \mathbb E[p(t)p(0)]\,dt = \langle p, (-\mathcal L)^{-1}p\rangle_\mu$,
computed by `effcoef.underdamped.underdamped_coefficients`: Hermite functions in $p$ (scaled so that
$N \sim \gamma^{-1/2}$ of them suffice as $\gamma\to0$) times Fourier modes in $x$, sparse LU in 1D,
sizes chosen from `rtol` with two resolutions per variable.

Asymptotes (independent quadratures, `effcoef.reference.underdamped`):

* $\gamma\to\infty$: $\gamma D \to \theta L^2/(Z_+Z_-)$, $Z_\pm = \int_0^L e^{\pm U/\theta}$ (Lifson-Jackson);
* $\gamma\to0$: $\gamma D \to \frac{2L^2\theta}{Z}\int_{E_0}^\infty \frac{e^{-E/\theta}}{S(E)}dE$,
  $S(E) = \int_0^L\sqrt{2(E-U)}\,dx$, $E_0 = \max U$ (Hairer & Pavliotis 2008, energy diffusion)."""),
    ("code", """\
import time
import warnings
import numpy as np
import matplotlib.pyplot as plt
from effcoef.underdamped import underdamped_coefficients
from effcoef.reference.underdamped import lifson_jackson, energy_diffusion_limit
from effcoef.models.langevin_mc import langevin_diffusion_mc

theta = 1.0
V0s = [0.5, 2.0, 5.0]
gammas = np.logspace(-3, 3, 13)
RTOL = 1e-4                      # figure accuracy; every point certifies its own estimate
t0 = time.time()
curves, lj, ed = {}, {}, {}
for V0 in V0s:
    U = f"{V0}*cos(x)"
    lj[V0] = lifson_jackson(U, theta).value
    ed[V0] = energy_diffusion_limit(U, theta).value
    rows = [underdamped_coefficients(U, theta, g, rtol=RTOL) for g in gammas]
    assert all(r.accurate for r in rows)
    curves[V0] = np.array([g * r.D for g, r in zip(gammas, rows)])
    print(f"V0/theta = {V0}: gamma D from {curves[V0][0]:.6g} (gamma = 1e-3) to {curves[V0][-1]:.6g} "
          f"(gamma = 1e3); energy-diffusion limit {ed[V0]:.6g}, Lifson-Jackson {lj[V0]:.6g}; "
          f"largest estimate {max(r.rel_error_estimate for r in rows):.1e}")
    # the two asymptotes: 1/gamma^2 approach at large gamma, sqrt(gamma) approach from above at small gamma
    assert abs(curves[V0][-1] / lj[V0] - 1) < 1e-4
    assert 0 < curves[V0][0] / ed[V0] - 1 < 0.15
    assert np.all(np.diff(curves[V0][:4]) > 0)
print(f"{3 * len(gammas)} spectral points in {time.time() - t0:.1f} s")"""),
    ("md", r"""## Monte Carlo points

BAOAB splitting, 2000 particles, Green-Kubo estimator truncated at $8/\lambda_1$ (the spectral gap
$\lambda_1$ from the solver's eigenvalues), 95 % intervals from 40 batches of independent particles."""),
    ("code", """\
t0 = time.time()
mc_points = []
for V0, g, seed in [(0.5, 0.1, 1), (0.5, 1.0, 2), (2.0, 1.0, 3), (0.5, 10.0, 4)]:
    U = f"{V0}*cos(x)"
    res = underdamped_coefficients(U, theta, g, n_eigenvalues=1)
    mc = langevin_diffusion_mc(U, theta, g, n_particles=2000, n_origins=100,
                               relaxation_time=1.0 / res.info["spectral_gap"], seed=seed)
    z = mc.green_kubo.zscore(res.D)
    mc_points.append((V0, g, mc.green_kubo))
    print(f"V0 = {V0}, gamma = {g:5g}: spectral D = {res.D:.6f}, Monte Carlo {mc.green_kubo:.4f} "
          f"(z = {z:+.2f}, {mc.seconds:.1f} s; for the solver's {res.rel_error_estimate:.0e} it would need "
          f"{mc.seconds_for(max(res.rel_error_estimate, 1e-16)):.1e} s)")
    assert abs(z) < 3
print(f"Monte Carlo in {time.time() - t0:.1f} s")"""),
    ("code", """\
fig, ax = plt.subplots(figsize=(7, 4.5))
for V0, col in zip(V0s, ["C0", "C1", "C2"]):
    ax.loglog(gammas, curves[V0], "-o", color=col, ms=3, label=f"spectral, $V_0/\\\\theta$ = {V0}")
    ax.axhline(lj[V0], color=col, ls="--", lw=0.8)
    ax.axhline(ed[V0], color=col, ls=":", lw=0.8)
for V0, g, est in mc_points:
    col = {0.5: "C0", 2.0: "C1", 5.0: "C2"}[V0]
    ax.errorbar([g], [g * est.value], yerr=[g * 1.96 * est.stderr], fmt="s", color=col, mfc="none", ms=7)
ax.set_xlabel("friction $\\\\gamma$"); ax.set_ylabel("$\\\\gamma D$")
ax.set_title("$U = V_0\\\\cos x$: dashed Lifson-Jackson, dotted energy diffusion, squares Monte Carlo")
ax.legend(fontsize=8, loc="lower right")
plt.show()"""),
    ("md", r"""## Two dimensions

The separable potential $-(\cos x_1 + \cos x_2)/2$ must give the 1D value on the diagonal; the
non-separable $-(\cos x_1+\cos x_2)/2 - \delta\cos x_1\cos x_2$ ($\delta = 0.64$) is solved by GMRES
with the separable operator as preconditioner and checked against Monte Carlo."""),
    ("code", """\
t0 = time.time()
r1 = underdamped_coefficients("-cos(x)/2", theta, 1.0)
r2 = underdamped_coefficients("-(cos(x1) + cos(x2))/2", theta, 1.0, rtol=1e-7)
print("separable 2D D =", r2.D.tolist(), " 1D value", r1.D)
assert abs(r2.D[0, 0] / r1.D - 1) < 1e-7 and abs(r2.D[1, 1] / r1.D - 1) < 1e-7 and r2.D[0, 1] == 0
pot = "-(cos(x1) + cos(x2))/2 - 0.64*cos(x1)*cos(x2)"
rd = underdamped_coefficients(pot, theta, 1.0, rtol=1e-6)
mc = langevin_diffusion_mc(pot, theta, 1.0, n_particles=2000, n_origins=100, t_corr=15.0, seed=7)
z = mc.green_kubo.zscore(rd.D[0, 0])
print(f"delta = 0.64, gamma = 1: spectral D11 = D22 = {rd.D[0, 0]:.8f} (estimate {rd.rel_error_estimate:.1e}, "
      f"N = {rd.info['hermite_degree']}, K = {rd.info['fourier_modes']}, {rd.info['gmres_iterations']} GMRES iterations); "
      f"Monte Carlo {mc.green_kubo:.4f} (z = {z:+.2f})")
assert rd.accurate and abs(z) < 3 and abs(rd.D[0, 1]) < 1e-14
print(f"2D in {time.time() - t0:.1f} s")"""),
]


def build():
    nb = new_notebook()
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src)
                for kind, src in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


if __name__ == "__main__":
    nbformat.write(build(), HERE / NAME)
    print("wrote", HERE / NAME)
