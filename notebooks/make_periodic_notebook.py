"""Generate notebooks/periodic.ipynb (periodic homogenisation, issue 18).

    python notebooks/make_periodic_notebook.py     # rewrites the notebook, without outputs

Lifson-Jackson curve D/theta = 1/I0(V0/theta)^2 against the solver down to 1e-41; the gap of a
two-well cell against Eyring-Kramers; the giant-diffusion peak in a tilted cosine against the
closed form (Reimann et al.) and Monte Carlo; a non-separable 2D potential's D matrix against
Fourier Galerkin and Monte Carlo.  Every number shown is asserted.  Runs in about 30 s.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
NAME = "periodic.ipynb"

CELLS = [
    ("md", r"""# Periodic homogenisation: effective drift and diffusion in periodic potentials

$dX = (-\nabla U(X) + F)\,dt + \sqrt{2\theta}\,dB$ with $U$ periodic on a cell:
$V_{\rm eff} = \lim X_t/t$, $D_{\rm eff} = \lim \mathrm{Cov}(X_t)/(2t)$
(`effcoef.periodic.effective_coefficients`). References, all independent of the solver:
the closed forms of Lifson-Jackson and Reimann et al. (`effcoef.reference.periodic`, log space),
Fourier Galerkin (`effcoef.reference.periodic_fourier`), Eyring-Kramers, and Monte Carlo of the
SDE (`effcoef.models.periodic_mc`, seeded, 95% intervals, 3 standard errors)."""),
    ("code", """\
import math, time
import numpy as np
import matplotlib.pyplot as plt
from scipy.special import i0e
import potentials
from effcoef.periodic import effective_coefficients
from effcoef.reference.periodic import (lifson_jackson, tilted_coefficients, eyring_kramers_gap,
                                        cosine_lifson_jackson, stationary_density)
from effcoef.reference.periodic_fourier import fourier_coefficients
from effcoef.models.periodic_mc import periodic_mc
T0 = time.time()"""),
    ("md", r"""## Lifson-Jackson: $D/\theta = I_0(V_0/\theta)^{-2}$ for $U = V_0\cos(2\pi x/L)$

The 1D cell problem is solved exactly in derivative coordinates (sums of positive terms in log
space), so the relative accuracy holds down to $D/\theta \approx 10^{-41}$ at $V_0/\theta = 50$."""),
    ("code", """\
cosU = potentials.cosine_potential(1.0, 1.0)
ratios = np.logspace(-1, np.log10(50), 25)
sol, exact, est = [], [], []
for r in ratios:
    res = effective_coefficients(cosU, 1 / r)
    sol.append(res.info['log_D'] + math.log(r))          # log(D / theta)
    exact.append(cosine_lifson_jackson(1.0, 1 / r))
    est.append(res.rel_error_estimate)
err = np.abs(np.expm1(np.array(sol) - np.array(exact)))
print(f"V0/theta = 50: D/theta = {math.exp(sol[-1]):.6e} (exact {math.exp(exact[-1]):.6e})")
print(f"max relative error {err.max():.1e}, max estimate {max(est):.1e}")
assert err.max() <= 1e-10 and max(est) <= 1e-10
fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
ax[0].loglog(ratios, np.exp(exact), 'k-', label='$1/I_0(V_0/\\\\theta)^2$')
ax[0].loglog(ratios, np.exp(sol), 'o', ms=4, label='solver')
ax[0].set_xlabel('$V_0/\\\\theta$'); ax[0].set_ylabel('$D/\\\\theta$'); ax[0].legend()
ax[1].loglog(ratios, np.maximum(err, 1e-17), 'o', label='error')
ax[1].loglog(ratios, est, 'x', label='estimate'); ax[1].set_xlabel('$V_0/\\\\theta$'); ax[1].legend();"""),
    ("md", r"""## Two wells per cell: $D$ against Lifson-Jackson, the gap against Eyring-Kramers

$U = \cos 2\pi x + 0.6\cos(4\pi x + 0.4)$: two unequal wells. The cell operator's gap
$\lambda_1$ is the hopping rate between them (refined by inverse iteration with the exact
periodic Green's operator, so it keeps relative accuracy at $10^{-27}$); its ratio to the
Eyring-Kramers rate tends to 1 like $1 - O(\theta)$."""),
    ("code", """\
TB = "cos(2*pi*x) + 0.6*cos(4*pi*x + 0.4)"
thetas = [0.3, 0.1, 0.05, 0.03, 0.02, 0.01, 0.0075, 0.005, 0.004]
rows = []
for th in thetas:
    res = effective_coefficients(TB, th)
    ref = lifson_jackson(TB, th)
    ek = eyring_kramers_gap(TB, th)[0]
    rows.append((th, res.D, abs(res.D / ref.D - 1), res.info['spectral_gap'], res.info['spectral_gap'] / ek))
    print(f"theta={th:7.4f}  D={res.D:.6e}  err={rows[-1][2]:.1e}  gap={rows[-1][3]:.6e}  gap/EK={rows[-1][4]:.5f}")
r = np.array(rows)
assert np.all(r[:, 2] <= 1e-10)
assert np.all(np.abs(r[3:, 4] - 1) <= 15 * r[3:, 0]) and np.all(np.diff(np.abs(r[3:, 4] - 1)) < 0)
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.semilogx(1 / r[:, 0], r[:, 4], 'o-'); ax.axhline(1, color='k', lw=0.5)
ax.set_xlabel('$1/\\\\theta$'); ax.set_ylabel('$\\\\lambda_1$ / Eyring-Kramers');"""),
    ("md", r"""## Giant diffusion in a tilted cosine

$D_{\rm eff}/\theta$ against $F/F_c$ ($F_c = 2\pi V_0/L$): solver curve, closed form
(Reimann et al.) as markers, Monte Carlo at $\theta/V_0 = 0.1$ (Euler-Maruyama with
Richardson extrapolation in $\Delta t$, 95% intervals)."""),
    ("code", """\
Fc = 2 * math.pi
peaks = {}
fig, ax = plt.subplots(figsize=(6, 4))
for tv in (0.1, 0.03, 0.01):
    f = np.linspace(0.5, 1.5, 61)
    D = np.array([effective_coefficients(cosU, tv, force=x * Fc).D for x in f]) / tv
    fr = f[::6]
    Dr = np.array([tilted_coefficients(cosU, tv, x * Fc).D for x in fr]) / tv
    assert np.allclose(D[::6], Dr, rtol=1e-9, atol=0)
    i = int(np.argmax(D)); peaks[tv] = (f[i], D[i])
    line, = ax.semilogy(f, D, label=f'$\\\\theta/V_0$ = {tv}')
    ax.semilogy(fr, Dr, 'o', mfc='none', color=line.get_color())
    print(f"theta/V0={tv}: peak D/theta = {D[i]:.4f} at F/F_c = {f[i]:.3f}")
assert peaks[0.1][1] < peaks[0.03][1] < peaks[0.01][1]
assert all(0.9 < p[0] <= 1.0 for p in peaks.values())
mc_f = [0.8, 1.0, 1.2]
for x in mc_f:
    ref = effective_coefficients(cosU, 0.1, force=x * Fc)
    mc = periodic_mc(cosU, 0.1, force=x * Fc, n_particles=1000, n_windows=3, seed=5)
    z = mc.zscores(ref.V, ref.D)
    d = mc.D[0][0]
    print(f"F/F_c={x}: MC D/theta = {d.value / 0.1:.3f} +- {d.stderr / 0.1:.3f} "
          f"(solver {ref.D / 0.1:.4f}, z = {z['D'][0, 0]:+.2f}); V: z = {z['V'][0]:+.2f}")
    assert abs(z['D'][0, 0]) <= 3 and abs(z['V'][0]) <= 3
    ax.errorbar([x], [d.value / 0.1], yerr=[[(d.value - d.ci[0]) / 0.1], [(d.ci[1] - d.value) / 0.1]],
                fmt='k^', ms=6)
ax.set_xlabel('$F/F_c$'); ax.set_ylabel('$D_{eff}/\\\\theta$'); ax.legend(fontsize=8);"""),
    ("md", r"""The stationary density on the cell near the critical tilt (exact discrete density of the
solver against $I_-/\int I_-$):"""),
    ("code", """\
fig, ax = plt.subplots(figsize=(6, 3.5))
for x in (0.5, 0.95, 1.2):
    res = effective_coefficients(cosU, 0.03, force=x * Fc)
    xs, rho = stationary_density(cosU, 0.03, x * Fc)
    rs = res.info['density'](xs)
    assert np.max(np.abs(rs / rho - 1)) <= 1e-6
    ax.semilogy(xs, rs, label=f'F/F_c = {x}')
ax.set_xlabel('x'); ax.set_ylabel('rho'); ax.legend(fontsize=8);"""),
    ("md", r"""## A non-separable 2D potential

$U = -(\cos x_1 + \cos x_2)/2 - 0.3\cos x_1\cos x_2$ on $[0, 2\pi]^2$, $\theta = 0.5$, with and
without the tilt $F = (0.3, 0.1)$: the solver's $D$ matrix (periodic $\mathbb Q_p$ elements)
against Fourier Galerkin (a different discretisation) and Monte Carlo."""),
    ("code", """\
NS = "-(cos(x1) + cos(x2))/2 - 0.3*cos(x1)*cos(x2)"
for F in (None, (0.3, 0.1)):
    res = effective_coefficients(NS, 0.5, period=2 * math.pi, force=F)
    fo = fourier_coefficients(NS, 0.5, period=2 * math.pi, force=F, K=12)
    mc = periodic_mc(NS, 0.5, period=2 * math.pi, force=F, n_particles=1200, n_windows=2,
                     seed=9)
    z = mc.zscores(res.V, res.D)
    print(f"F = {F}: estimate {res.rel_error_estimate:.1e}, |D - D_fourier| = {np.abs(res.D - fo.D).max():.1e}")
    print("  D solver =", np.array2string(res.D, precision=6).replace('\\n', ''))
    print("  D MC     =", np.array2string(mc.D_value, precision=4).replace('\\n', ''),
          "+-", np.array2string(mc.D_stderr, precision=2).replace('\\n', ''))
    print("  V solver =", np.round(res.V, 6), " V MC =", np.round(mc.V_value, 4), "+-", np.round(mc.V_stderr, 4))
    print("  z-scores D:", np.round(z['D'].ravel(), 2), " V:", np.round(z['V'], 2))
    assert np.abs(res.D - fo.D).max() <= 1e-8 * np.abs(fo.D).max()
    assert np.all(np.abs(z['D']) <= 3) and np.all(np.abs(z['V']) <= 3)
    assert np.allclose(res.D, res.D.T) and np.all(np.linalg.eigvalsh(res.D) > 0)
    if F is None:
        assert np.all(np.linalg.eigvalsh(0.5 * np.eye(2) - res.D) >= 0)   # D <= theta I
print(f"notebook ran in {time.time() - T0:.0f} s")"""),
]


def build():
    nb = new_notebook()
    nb.cells = [new_markdown_cell(s) if k == "md" else new_code_cell(s) for k, s in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


if __name__ == "__main__":
    nbformat.write(build(), HERE / NAME)
