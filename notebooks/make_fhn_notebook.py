"""Generate notebooks/fhn.ipynb (FitzHugh-Nagumo consumers, papers 001 and 000).

    python notebooks/make_fhn_notebook.py     # rewrites the notebook, without outputs

Frozen voltage operator: gap and variance vs J against J + N'(m), theta/(J + N'(m));
bistable limit ODE fixed points; network mean vs limit ODE for three J. Paper 001:
Fig 6.1 (concentration, Gaussian profiles), Fig 7.1 (bistability), Fig 7.3 (Hopf point,
relaxation cycles). Paper 000: travelling front of the nonlocal limit (1.6) vs site means,
per-site variance eps/rho0, W2 ~ sqrt(eps) and O(eps) means with fitted slopes.
Every number shown is asserted. Runs in about 25 s.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
NAME = "fhn.ipynb"

CELLS = [
    ("md", r"""# FitzHugh-Nagumo networks with gap junctions (papers 001 and 000)

$dv_i = (-N(v_i) - x_i + I - J(v_i - m))\,dt + \sigma\,dW_i$, $dx_i = (-a x_i + b v_i)\,dt$,
$N(v) = v(v-\lambda)(v-1)$. Frozen voltage operator: $W(v) = \int_0^v N + (x-I)v + \frac J2 (v-m)^2$,
$\theta = \sigma^2/2$. Limit ODE (6.4): $\dot\alpha = -N(\alpha) - \beta + I$, $\dot\beta = -a\beta + b\alpha$."""),
    ("code", """\
import numpy as np
import matplotlib.pyplot as plt
from effcoef.models import fhn
m, theta = 0.5, 0.5
Np = float(fhn.N_eval(m, deriv=1))
Js = np.array([1, 3, 10, 30, 100, 300, 1000.])
gaps = np.array([fhn.spectral_gap(J, m=m) for J in Js])
vars_ = np.array([fhn.ground_moments(J, m=m).var for J in Js])
for J, g, v in zip(Js, gaps, vars_):
    print(f"J={J:7.1f}  gap/(J+N')={g/(J+Np):.6f}  Var*(J+N')/theta={v*(J+Np)/theta:.6f}")
assert abs(gaps[-1] / (Js[-1] + Np) - 1) < 1e-3 and abs(vars_[-1] * (Js[-1] + Np) / theta - 1) < 1e-3
fig, ax = plt.subplots()
ax.loglog(Js[2:], np.abs(gaps[2:] / (Js[2:] + Np) - 1), 'o-', label='gap')
ax.loglog(Js[2:], np.abs(vars_[2:] * (Js[2:] + Np) / theta - 1), 's-', label='variance')
ax.set_xlabel('J'); ax.set_ylabel('relative deviation'); ax.legend();"""),
    ("code", """\
fps = fhn.fixed_points(0.3, 0.1, I=0.0, lam=4.0)
for al, be, ev in fps:
    print(f"alpha={al:.4f} beta={be:.4f} eig={ev}")
stable = [(al, be) for al, be, ev in fps if np.all(ev.real < 0)]
assert np.allclose(stable, [(0, 0), (3.8844, 1.2948)], atol=1e-4)"""),
    ("code", """\
errs = []
fig, ax = plt.subplots()
for J in [5., 10., 20.]:
    r = fhn.simulate_network(20000, J, 2.0, 2e-3, a=0.3, b=0.1, v0=2.0, x0=0.5, seed=2, save_every=10)
    y = fhn.solve_limit_ode([2.0, 0.5], r.t, 0.3, 0.1)
    errs.append(np.abs(r.mean_v - y[0]).max())
    ax.plot(r.t, r.mean_v, label=f'network J={J:g}')
ax.plot(r.t, y[0], 'k--', label='limit ODE'); ax.legend(); ax.set_xlabel('t')
print('max |mean v - alpha|:', errs)
assert errs[0] > errs[1] > errs[2]"""),
    ("md", r"""## Paper 001, Fig. 6.1: concentration on the limit ODE

Network (6.6): $\sigma = \sqrt2$ ($\theta = 1$), coupling $J = 1/\varepsilon$ and noise
$\sqrt{2\varepsilon}\,dB$ on the recovery variable, $\lambda = 4$, $a = 0.3$, $b = 0.1$,
$n = 1000$. Predicted: the mean follows $(\alpha, \beta)$ of (6.4), and the neurons are Gaussian
around it with $\mathrm{Var}\,v = \theta/(J + N'(\alpha)) \approx \varepsilon$ and
$\mathrm{Var}\,x = \varepsilon/a$ (the paper's profiles
$e^{-(v-\alpha)^2/2\varepsilon}$, $e^{-a(x-\beta)^2/2\varepsilon}$). Variances are averaged over
$t \in [8, 12]$ (the recovery variance relaxes at rate $2a$)."""),
    ("code", """\
a, b, theta = 0.3, 0.1, 1.0
fig, axs = plt.subplots(1, 3, figsize=(13, 3.5))
t_lim = np.linspace(0, 12, 1201)
y = fhn.solve_limit_ode([2.0, 0.5], t_lim, a, b)
for inv_eps in [25, 100, 225]:
    eps = 1.0 / inv_eps
    r = fhn.simulate_network(1000, inv_eps, 12.0, 1e-3, a=a, b=b, sigma=np.sqrt(2),
                             sigma_x=np.sqrt(2 * eps), v0=2.0, x0=0.5, seed=3, save_every=20)
    late = r.t >= 8
    Np = fhn.N_eval(r.mean_v[late], deriv=1)
    rv = (r.var_v[late] * (inv_eps + Np) / theta).mean()
    rx = r.var_x[late].mean() * a / eps
    err = np.abs(r.mean_v - np.interp(r.t, t_lim, y[0])).max()
    print(f"1/eps={inv_eps:3d}: max|mean v - alpha| = {err:.4f}   "
          f"Var v (J+N')/theta = {rv:.3f}   Var x a/eps = {rx:.3f}")
    # statistics ~1-2% (1000 neurons, 4 time units), splitting bias <= 1% at dt = 1e-3
    assert err < 0.1 and abs(rv - 1) < 0.05 and abs(rx - 1) < 0.1
    axs[0].plot(r.t, r.mean_v, label=f'1/eps={inv_eps}')
    axs[1].hist((r.v - r.v.mean()) / np.sqrt(eps), bins=40, density=True, histtype='step',
                label=f'1/eps={inv_eps}')
    axs[2].hist((r.x - r.x.mean()) * np.sqrt(a / eps), bins=40, density=True, histtype='step')
axs[0].plot(t_lim, y[0], 'k--', label='limit ODE (6.4)')
axs[0].set_xlabel('t'); axs[0].set_ylabel('mean v')
zz = np.linspace(-4, 4, 200)
for ax in axs[1:]:
    ax.plot(zz, np.exp(-zz**2 / 2) / np.sqrt(2 * np.pi), 'k--', label='N(0, 1)')
axs[0].legend(fontsize=7); axs[1].legend(fontsize=7)
axs[1].set_xlabel('(v - mean) / sqrt(eps)'); axs[2].set_xlabel('(x - mean) sqrt(a / eps)');"""),
    ("md", r"""## Paper 001, Fig. 7.1: bistability

Same $\lambda, a, b$, $I = 0$: stable points $(0, 0)$ and $(3.8844, 1.2948)$. Network (1.1) with
$n = 500$, $\sigma = 1$, $1/\varepsilon = 10, 50, 100$, started near the separatrix at $x(0) = 1$
with $v(0) = 1.2$ or $1.35$ (spread 0.1): each group ends at the stable point the limit ODE
(dashed) predicts from its initial mean."""),
    ("code", """\
fps = fhn.fixed_points(a, b)
stable = [(al, be) for al, be, ev in fps if np.all(ev.real < 0)]
t_lim = np.linspace(0, 20, 2001)
fig, axs = plt.subplots(1, 2, figsize=(11, 4))
vv = np.linspace(-1, 4.6, 300)
axs[1].plot(vv, -fhn.N_eval(vv), 'k:', lw=1, label='v-nullcline x = -N(v)')
axs[1].plot(vv, b / a * vv, 'k-.', lw=1, label='x-nullcline x = (b/a) v')
rng = np.random.default_rng(0)
for v0, target in [(1.2, stable[0]), (1.35, stable[1])]:
    y = fhn.solve_limit_ode([v0, 1.0], t_lim, a, b)
    assert np.allclose(y[:, -1], target, atol=0.02)     # the limit ODE's own verdict
    axs[0].plot(t_lim, y[0], 'k--'); axs[1].plot(y[0], y[1], 'k--')
    for J in [10., 50., 100.]:
        r = fhn.simulate_network(500, J, 20.0, 2e-3, a=a, b=b, sigma=1.0,
                                 v0=v0 + 0.1 * rng.standard_normal(500), x0=1.0, seed=int(J),
                                 save_every=25)
        axs[0].plot(r.t, r.mean_v, lw=1, label=f'v0={v0}, 1/eps={J:g}')
        axs[1].plot(r.mean_v, r.mean_x, lw=1)
        print(f"v0={v0} 1/eps={J:5.0f}: final mean (v, x) = ({r.mean_v[-1]:.3f}, "
              f"{r.mean_x[-1]:.3f});  stable point ({target[0]:.4f}, {target[1]:.4f})")
        assert abs(r.mean_v[-1] - target[0]) < 0.1 and abs(r.mean_x[-1] - target[1]) < 0.05
axs[1].set_ylim(-0.3, 2); axs[0].legend(fontsize=6); axs[1].legend(fontsize=7)
axs[0].set_xlabel('t'); axs[1].set_xlabel('v'); axs[1].set_ylabel('x');"""),
    ("md", r"""## Paper 001, Fig. 7.3: through the Hopf point

$\lambda = 4$, $a = 0.01$, $b = 0.1$: a single fixed point for every $I$, whose Jacobian
$[[-N'(\alpha), -1], [b, -a]]$ has trace $-N'(\alpha) - a$: the Hopf point is
$N'(\alpha) = -a$, $I_H = N(\alpha) + (b/a)\alpha$. Network: $n = 500$, $\varepsilon = 0.01$,
$\sigma = 1$. Below $I_H$ far enough ($I = 4$) everything settles; above ($I = 6$) the limit
ODE and the network fire the same relaxation cycle; just below ($I = 5.3$) the limit ODE
settles but the network, kicked by its finite-$n$ noise ($\sigma/\sqrt n$ on the mean),
already fires irregular spikes, as the paper reports (5 of 5 seeds tried). (INDEX.md: the
Fig. 7.2 parameters as printed, $a = 0.03$, $I = 4$, do not oscillate.)"""),
    ("code", """\
a3, b3 = 0.01, 0.1
(IH, alH), _ = fhn.hopf_points(a3, b3)
print(f"Hopf point: I_H = {IH:.5f} (fixed point alpha = {alH:.5f})")
for I in (IH - 0.01, IH + 0.01):
    print(f"  I = {I:.5f}: eigenvalues {np.round(fhn.fixed_points(a3, b3, I=I)[0][2], 5)}")
assert abs(IH - 5.5415) < 1e-4
assert fhn.fixed_points(a3, b3, I=IH - 0.01)[0][2].real.max() < 0 < fhn.fixed_points(a3, b3, I=IH + 0.01)[0][2].real.max()

def spikes(t, v):
    up = np.where((v[1:] > 2) & (v[:-1] <= 2))[0]
    return t[up]

t = np.linspace(0, 250, 25001)
fig, axs = plt.subplots(3, 1, figsize=(11, 7), sharex=True)
for ax, I in zip(axs, (4.0, 5.3, 6.0)):
    al, be, _ = fhn.fixed_points(a3, b3, I=I)[0]
    y = fhn.solve_limit_ode([al + 0.05, be], t, a3, b3, I=I)
    r = fhn.simulate_network(500, 100.0, 250.0, 5e-3, a=a3, b=b3, I=I, sigma=1.0, v0=al, x0=be,
                             seed=7, save_every=20)
    s_lim, s_net = spikes(t, y[0]), spikes(r.t, r.mean_v)
    ax.plot(r.t, r.mean_v, label='network mean (n=500, eps=0.01)')
    ax.plot(t, y[0], 'k--', label='limit ODE')
    ax.set_title(f'I = {I}', fontsize=9); ax.set_ylabel('v')
    print(f"I = {I}: limit ODE spikes {s_lim.size}, network spikes {s_net.size}, "
          f"inter-spike times {np.round(np.diff(s_net), 1)}")
    if I == 4.0:
        assert s_lim.size == 0 and s_net.size == 0
    elif I == 5.3:
        assert s_lim.size == 0 and s_net.size >= 1
    else:
        per_lim = np.diff(s_lim).mean()
        print(f"   limit-cycle period {per_lim:.1f}, network {np.diff(s_net).mean():.1f}")
        assert s_net.size >= 2 and abs(np.diff(s_net).mean() / per_lim - 1) < 0.1
axs[0].legend(fontsize=7); axs[-1].set_xlabel('t');"""),
    ("md", r"""## Paper 000: spatially extended network, strong local coupling $1/\varepsilon$

Periodic sites $x_k$ on $[0, 1)$, density $\rho_0(x) = 1 + \cos(2\pi x)/2$, Gaussian kernel
$\Psi$ ($\kappa = 2$, $\ell = 0.1$), $\theta = 1$; each site's law is sampled by particles that
relax to the site mean at rate $\rho_0/\varepsilon + \Psi *_r \rho_0$ (exact OU step). The
limit (1.6), $\partial_t V = -N(V) - W - \mathcal L_{\rho_0}[V]$, is solved by the method of
lines on the same sites. Initial data: an excited plateau with spread 0.5 (ill-prepared); its
fronts travel. Dotted: the conjectured corrected system of the paper's conclusion,
$-\theta\varepsilon N''(V)/(2\rho_0)$ added (INDEX.md: $\varepsilon/(2\rho_0)$). The $O(\varepsilon)$
error against (1.6) grows with time (Corollary 2.8's $e^{Ct}$: the front speed differs at
$O(\varepsilon)$); the corrected system follows the site means 40 times closer."""),
    ("code", """\
from effcoef.models import fhn_spatial as fs
rho0 = lambda x: 1 + 0.5 * np.cos(2 * np.pi * x)
Psi = fs.periodic_gaussian_kernel(2.0, 0.1)
prof = lambda x: 0.5 * (1 + np.tanh((0.2 - np.abs(x - 0.5)) / 0.05))
V0 = lambda x: 3.8844 * prof(x)
W0 = lambda x: 1.2948 * prof(x)
sites = fs.make_sites(32, rho0=rho0, Psi=Psi)
eps = 0.005
r = fs.simulate_spatial(eps, 200, 4.0, 1e-3, sites, a=a, b=b, v0=V0, w0=W0, s0=0.5, seed=1,
                        save_every=50)
V, W = fs.solve_limit_spatial(V0, W0, r.t, sites, a=a, b=b)
Vc, Wc = fs.solve_limit_spatial(V0, W0, r.t, sites, a=a, b=b, eps_correction=eps)
fig, axs = plt.subplots(1, 2, figsize=(12, 4))
for tt in [0.0, 1.0, 2.0, 3.0, 4.0]:
    i = int(np.argmin(np.abs(r.t - tt)))
    line, = axs[0].plot(sites.x, V[i], '-', label=f't = {tt:g}')
    axs[0].plot(sites.x, Vc[i], ':', color=line.get_color())
    axs[0].plot(sites.x, r.mean_v[i], 'o', ms=3, color=line.get_color())
axs[0].set_xlabel('x'); axs[0].set_ylabel('V'); axs[0].legend(fontsize=7)
axs[0].set_title('limit (1.6) (lines), corrected (dotted), site means (dots); eps = 0.005',
                 fontsize=9)
late = r.t >= 0.25
ratio = (r.var_v[late] * sites.rho0 / eps).mean(0)
pred, lead = fs.variance_prediction(eps, sites, r.mean_v[late])
axs[1].plot(sites.x, ratio, 'o-', label='time-averaged Var rho0 / (theta eps)')
axs[1].plot(sites.x, (pred / lead).mean(0), 'k--', label="theta/(J + N'(V)) / (theta eps/rho0)")
axs[1].set_xlabel('x'); axs[1].legend(fontsize=7)
err, err_c = np.abs(r.mean_v - V).max(), np.abs(r.mean_v - Vc).max()
print(f"eps = {eps}: max |site mean - V| = {err:.4f} (limit 1.6), {err_c:.4f} (corrected system)")
print(f"Var rho0/(theta eps) in [{ratio.min():.3f}, {ratio.max():.3f}]")
print("excited sites (V > 2) at t = 0 and 4:", (V[0] > 2).sum(), (V[-1] > 2).sum(), "of", sites.K)
assert err < 0.3 and err_c < 0.1 * err and np.all(np.abs(ratio - 1) < 0.12)
assert (V[-1] > 2).sum() > (V[0] > 2).sum()"""),
    ("md", r"""### The $\sqrt\varepsilon$ law (Corollary 2.9) and $O(\varepsilon)$ means (Corollary 2.8)

$W_2(\mu_{t,x}, \delta_{V(t,x)} \otimes \bar\mu_{t,x})^2 = E|v - V(t,x)|^2$ (+ the $w$ part,
$O(\varepsilon^2)$ here), $V$ the limit: rms over $t \in [0.25, 1]$, sup over 16 sites, 400
particles per site, ill-prepared data. The step $dt = 5\cdot10^{-4}$ does not depend on
$\varepsilon$ (the stiff part is exact)."""),
    ("code", """\
sites = fs.make_sites(16, rho0=rho0, Psi=Psi)
EPS = np.array([0.01, 0.005, 0.0025, 0.00125])
w2, errs = [], []
for eps in EPS:
    r = fs.simulate_spatial(eps, 400, 1.0, 5e-4, sites, a=a, b=b, v0=V0, w0=W0, s0=0.5, seed=4,
                            save_every=20)
    V, W = fs.solve_limit_spatial(V0, W0, r.t, sites, a=a, b=b)
    late = r.t >= 0.25
    w2.append(np.sqrt((r.w2_voltage(V)[late] ** 2).mean(0)).max())
    errs.append(np.abs(r.mean_v - V).max())
s_w2, se_w2 = fs.loglog_slope(EPS, w2)
s_m, se_m = fs.loglog_slope(EPS, errs)
print(f"sup_x W2       : {np.round(w2, 4)}  slope {s_w2:.3f} +- {se_w2:.3f}")
print(f"sup |V^eps - V|: {np.round(errs, 5)}  slope {s_m:.3f} +- {se_m:.3f}")
assert abs(s_w2 - 0.5) < 0.1 and abs(s_m - 1) < 0.15
fig, ax = plt.subplots()
ax.loglog(EPS, w2, 'o-', label=f'sup_x W2, slope {s_w2:.2f}')
ax.loglog(EPS, np.sqrt(EPS / sites.rho0.min()), 'k--', label='sqrt(theta eps / min rho0)')
ax.loglog(EPS, errs, 's-', label=f'sup |V^eps - V|, slope {s_m:.2f}')
ax.set_xlabel('eps'); ax.legend(fontsize=8);"""),
]


def build():
    nb = new_notebook()
    nb.cells = [new_markdown_cell(s) if k == "md" else new_code_cell(s) for k, s in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


if __name__ == "__main__":
    nbformat.write(build(), HERE / NAME)
