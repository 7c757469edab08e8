"""Generate notebooks/swarming_consumer.ipynb (Monte Carlo and particle validation of D, K).

    python notebooks/make_swarming_notebook.py     # rewrites the notebook, without outputs

The notebook uses effcoef.models.swarming: Monte Carlo D (Green-Kubo, MSD) and K (linear
response) next to the spectral solver, and the L1 distance between the diffusively
scaled particle system (2.1)/(2.6) and the aggregation-diffusion equation (2.14) for
decreasing eps.  It asserts the agreement (3 standard errors) and the decrease, and
runs in well under 60 s.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
NAME = "swarming_consumer.ipynb"

CELLS = [
    ("md", r"""# Swarming consumer: particle and kinetic validation of $D$ and $K$

Paper 004, section 2. The velocity SDE (2.4)
$$dv = -\nabla W(v)\,dt + \sqrt{2\theta}\,dB,\qquad dr = v\,dt,$$
has the Maxwellian $M\propto e^{-W/\theta}$ as invariant law. The coefficients of the macroscopic
aggregation-diffusion equation (2.10)/(2.14),
$\rho_t = D\,\Delta\rho + K\,\nabla\cdot((\nabla U\star\rho)\rho)$, are

* $D = -\int v\chi = \int_0^\infty\langle v(0)v(t)\rangle\,dt$ (Green-Kubo) $= \lim \langle|r(t)-r(0)|^2\rangle/(2dt)$ (mean-square displacement),
* $K = -\int v\kappa = \mathrm{Cov}_M(v)/\theta$, the linear response $\langle v\rangle_F = KF + O(F^2)$ to a constant force $F$
  (the perturbed Maxwellian is $M e^{F\cdot v/\theta}/Z'$).

Below: Monte Carlo estimates (standard errors from batch means over independent particles,
fixed seeds) against `effcoef.coefficients`, then the particle system in the diffusive scaling
against the macroscopic equation."""),
    ("code", """\
import time
import numpy as np
import matplotlib.pyplot as plt
import effcoef, potentials
from effcoef.models import swarming as sw

t_start = time.perf_counter()"""),
    ("md", r"""## Monte Carlo vs spectral

Case A ($W = v^4/4 - v^2/2$, $\theta = 1/\gamma$) for $\gamma = 1, 5$ and the radial 2D swarming
potential $W = |v|^4/4 - |v|^2/2$ with $\theta = 1$ (compared with the diagonal entry of the
isotropic matrices). Euler-Maruyama with $dt = 2\cdot10^{-3}$; the heuristic time-step bias
$\lambda\,dt/2$ is listed next to the relative standard error."""),
    ("code", """\
cases = [("Case A, gamma=1", potentials.case_a(1), None, 2000),
         ("Case A, gamma=5", potentials.case_a(5), None, 2000),
         ("swarming d=2, gamma=1", potentials.swarming(1, 2), 1.0, 2000)]
rows, curves = [], {}
for i, (name, pot, theta, n) in enumerate(cases):
    res = effcoef.coefficients(pot, theta=theta)
    D, K = sw._iso(res.D), sw._iso(res.K)
    dm = sw.diffusion_mc(pot, theta, n_particles=n, seed=10 + i)
    kl = sw.drift_linear_response(pot, theta, n_particles=n // 2, seed=20 + i)
    bias = sw.timestep_bias_estimate(pot, theta, dt=2e-3)
    curves[name] = (dm, D, getattr(pot, "dim", 1))
    for label, est, ref in (("D  Green-Kubo", dm.green_kubo, D), ("D  MSD slope", dm.msd, D),
                            ("K  linear response", kl, K)):
        rows.append((name, label, ref, est, bias))

print(f"{'case':24s} {'estimator':20s} {'spectral':>10s} {'Monte Carlo':>20s} {'rel SE':>7s} {'z':>6s} {'dt bias':>8s}")
for name, label, ref, est, bias in rows:
    print(f"{name:24s} {label:20s} {ref:10.4f} {est.value:11.4f} +- {est.stderr:6.4f} "
          f"{est.rel_stderr:7.1%} {est.zscore(ref):6.2f} {bias:8.1e}")
for name, label, ref, est, bias in rows:
    assert abs(est.zscore(ref)) <= 3, (name, label)
    assert est.rel_stderr <= 0.05 and est.stderr >= 3 * bias * ref, (name, label)"""),
    ("code", """\
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
for ax, (name, (dm, D, d)) in zip(axes, curves.items()):
    t = dm.lags[1:]
    ax.plot(t * dm.lambda1, dm.gk_curve[1:], label=r"Green-Kubo $\\int_0^t C/d$")
    ax.plot(t * dm.lambda1, dm.msd_curve[1:] / (2 * d * t), ":", label=r"MSD$/(2dt)$ (estimator: late slope)")
    ax.axhline(D, color="k", lw=0.8, label="spectral D")
    ax.set_xlabel(r"$\\lambda_1 t$"); ax.set_title(name); ax.set_ylim(0, 1.3 * D)
axes[0].legend(fontsize=8)
plt.tight_layout()"""),
    ("md", r"""## Particle system vs macroscopic equation

$N$ particles in 1D in the diffusive scaling (2.6):
$$dr_i = \frac{v_i}{\sqrt\varepsilon}dt,\qquad
dv_i = -\frac1\varepsilon W'(v_i)\,dt - \frac{1}{\sqrt\varepsilon}\frac1N\sum_j U'(r_i-r_j)\,dt
+ \sqrt{\frac{2\theta}{\varepsilon}}\,dB_i,$$
Case A, $\gamma = 1$; attractive Gaussian interaction $U(x) = -2e^{-x^2/2}$; well-prepared data
$r_i\sim\mathcal N(0, 0.25^2)$, $v_i\sim M$. The macroscopic equation
$\rho_t = D\rho_{xx} + K((U'\star\rho)\rho)_x$ is solved by finite volumes (upwind, limited,
mass conserving, positive) with $D, K$ from `effcoef.coefficients`. The L1 distance of the
particle histogram (40 bins on $[-4, 4]$) to the solution at $t = 0.25$ should decrease with
$\varepsilon$ (the leading error is the $O(\varepsilon)$ initial velocity correlation, plus a
sampling floor $\propto N^{-1/2}$)."""),
    ("code", """\
pot = potentials.case_a(1)
s0 = 0.25
edges = np.linspace(-4, 4, 41)
out = sw.l1_vs_eps(pot, interaction=sw.gaussian_interaction(2.0, 1.0),
                   eps_values=[0.2, 0.05, 0.0125], n_particles=20_000, t_final=0.25,
                   r0=lambda n, rng: s0 * rng.standard_normal(n),
                   rho0=lambda x: np.exp(-0.5 * x**2 / s0**2), edges=edges, seed=0)
for e, d in zip(out["eps"], out["l1"]):
    print(f"eps = {e:7.4f}   L1 = {d:.4f}")
print(f"sampling floor (exact samples, same N and bins): {out['noise_floor']:.4f}")
assert np.all(np.diff(out["l1"]) < 0), out["l1"]"""),
    ("code", """\
fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.6))
a1.loglog(out["eps"], out["l1"], "o-", label="L1(particles, macroscopic)")
a1.axhline(out["noise_floor"], ls=":", color="gray", label="sampling floor")
a1.set_xlabel(r"$\\varepsilon$"); a1.set_ylabel("L1 distance"); a1.legend()
a1.set_xticks(out["eps"], [f"{e:g}" for e in out["eps"]]); a1.minorticks_off()
m = out["macro"]
a2.plot(m.centers, m.rho, "k", label="macroscopic (2.14)")
for e, r in zip(out["eps"], out["positions"]):
    a2.stairs(sw.particle_density(r, edges), edges, label=f"particles, eps={e:g}")
a2.set_xlim(-3, 3); a2.set_xlabel("x"); a2.legend(fontsize=8)
plt.tight_layout()
print(f"notebook run time: {time.perf_counter() - t_start:.1f} s")"""),
]


def main():
    cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in CELLS]
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    nbformat.write(nb, HERE / NAME)
    print(f"wrote {HERE / NAME}")


if __name__ == "__main__":
    main()
