"""Generate notebooks/runtumble.ipynb (internal-state run-and-tumble model, paper 002).

    python notebooks/make_runtumble_notebook.py     # rewrites the notebook, without outputs

Shows D(eps), chi(eps) against their eps -> 0 / eps -> infinity limits (two discretisations),
Monte Carlo checks, and the distance between internal-state and limit-model statistics
decreasing with eps (asserted).  Runs in well under 45 s.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
NAME = "runtumble.ipynb"

CELLS = [
    ("md", r"""# Run-and-tumble with an internal methylation state (paper 002)

In the rescaled variable $z$ the internal state is an OU process at speed $1/\varepsilon$
($L_z = \partial_z^2 - z\partial_z$, invariant law $\mathcal N(0,1)$), shifted by $-v\cdot\nabla M$
in a signal $M$; a bacterium tumbles at rate $\psi(z)$, redistributing $v$ uniformly on $V=\{-1,1\}$.
With $\mathcal A = \psi - L_z/\varepsilon$ (self-adjoint in $L^2(\mathcal N(0,1))$):

* $D(\varepsilon) = \frac{s^2}{d}\langle 1, \mathcal A^{-1}1\rangle$ (only the no-tumble event carries velocity correlation),
  $D(0^+) = s^2/(d\bar\psi)$, $D(\infty) = \frac{s^2}{d}\mathbb E[1/\psi]$;
* $\chi(\varepsilon) = -\frac{s^2}{d\varepsilon}\langle z, \mathcal A^{-1}1\rangle
  = \frac{s^2}{d\varepsilon}\langle 1, (\mathcal A + 1/\varepsilon)^{-1}\psi'\mathcal A^{-1}1\rangle$,
  $\chi(0^+) = \frac{s^2}{d}\mathbb E[\psi'(Z)]/\bar\psi$.

Here $\psi(z) = 0.5 + 1.5\,\Phi(1.5z)$: $\bar\psi = 1.25$, $D(0^+) = 0.8$,
$\chi(0^+) = 2.25/\sqrt{2\pi\cdot 3.25}/1.25$. See the docstring of `effcoef.models.runtumble` for the derivations."""),
    ("code", """\
import time
import numpy as np
import matplotlib.pyplot as plt
from scipy.special import ndtr
from effcoef.models import runtumble as rt

psi = lambda z: 0.5 + 1.5 * ndtr(1.5 * z)
dpsi = lambda z: 2.25 * np.exp(-1.125 * z * z) / np.sqrt(2 * np.pi)
D0, chi0, Dinf = rt.limit_coefficients(psi)
print(f"D(0+) = {D0:.12f}, chi(0+) = {chi0:.12f}, D(inf) = {Dinf:.12f}")
assert abs(D0 - 0.8) < 1e-12 and abs(chi0 - 2.25 / np.sqrt(2 * np.pi * 3.25) / 1.25) < 1e-12"""),
    ("md", "## $D(\\varepsilon)$, $\\chi(\\varepsilon)$: Hermite-Galerkin curve, FE spectral check at three points"),
    ("code", """\
t0 = time.time()
epss = np.logspace(-3, 3, 25)
res = [rt.runtumble_coefficients(psi, e, method="hermite") for e in epss]
D = np.array([r.D for r in res]); chi = np.array([r.chi for r in res])
print("eps        D(eps)            chi(eps)          |spectral-hermite|")
for e in (0.1, 1.0, 10.0):
    a = rt.runtumble_coefficients(psi, e, method="spectral", dpsi=dpsi)
    b = rt.runtumble_coefficients(psi, e, method="hermite", dpsi=dpsi)
    print(f"{e:5g}  {a.D:.12f}  {a.chi:.12f}  {abs(a.D-b.D):.1e} {abs(a.chi-b.chi):.1e}")
    assert abs(a.D - b.D) < 1e-7 and abs(a.chi - b.chi) < 1e-7
    assert abs(a.chi - a.chi_second_order) < 1e-9
assert abs(D[0] - D0) < 2e-3 and abs(chi[0] - chi0) < 2e-3 and abs(D[-1] - Dinf) < 2e-3
fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
ax[0].semilogx(epss, D, "o-", label="D(eps)")
ax[0].axhline(D0, ls="--", c="k", label="s^2/psi_bar"); ax[0].axhline(Dinf, ls=":", c="k", label="E[1/psi]")
ax[1].semilogx(epss, chi, "o-", label="chi(eps)"); ax[1].axhline(chi0, ls="--", c="k", label="E[psi']/psi_bar")
for a in ax: a.set_xlabel("eps"); a.legend()
print(f"{time.time()-t0:.1f} s")"""),
    ("md", "## Monte Carlo at $\\varepsilon = 1$ (exact event-driven simulation, fixed seeds)"),
    ("code", """\
ref = rt.runtumble_coefficients(psi, 1.0, method="hermite")
Dmc, seD = rt.mc_diffusion(psi, 1.0, n=20000, seed=1)
cmc, sec = rt.mc_sensitivity(psi, 1.0, alpha=0.1, n=20000, seed=2)
print(f"D:   MC {Dmc:.4f} +- {seD:.4f}   spectral {ref.D:.6f}")
print(f"chi: MC {cmc:.4f} +- {sec:.4f}   spectral {ref.chi:.6f}")
assert abs(Dmc - ref.D) < 3 * seD and abs(cmc - ref.chi) < 3 * sec"""),
    ("md", "## Internal-state vs limit kinetic model (1.1)-(1.3), (1.12): MSD at fixed times"),
    ("code", """\
ts = np.array([0.5, 1.0, 2.0, 4.0])
m0, s0 = rt.msd_statistics(psi, 0, ts, n=20000, seed=3)
dist, dist_exact = [], []
for e in (2.0, 0.5, 0.125):
    m, se = rt.msd_statistics(psi, e, ts, n=20000, seed=3)
    dist.append(np.max(np.abs(m - m0)))
    dist_exact.append(np.max(np.abs(rt.exact_msd(psi, e, ts, method="hermite") - rt.exact_msd(psi, 0, ts))))
    print(f"eps = {e:6g}: max_t |MSD_eps - MSD_limit| = {dist[-1]:.4f} (MC), {dist_exact[-1]:.4f} (spectral)")
assert dist[0] > dist[1] > dist[2] and dist_exact[0] > dist_exact[1] > dist_exact[2]"""),
]


def build():
    nb = new_notebook()
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src)
                for kind, src in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


if __name__ == "__main__":
    nbformat.write(build(), HERE / NAME)
    print("wrote", HERE / NAME)
