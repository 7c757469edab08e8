"""Generate notebooks/fhn.ipynb (FitzHugh-Nagumo consumer, paper 001).

    python notebooks/make_fhn_notebook.py     # rewrites the notebook, without outputs

Frozen voltage operator: gap and variance vs J against J + N'(m), theta/(J + N'(m));
bistable limit ODE fixed points; network mean vs limit ODE for three J (asserted).
Runs in well under 45 s.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
NAME = "fhn.ipynb"

CELLS = [
    ("md", r"""# FitzHugh-Nagumo network with gap junctions (paper 001)

$dv_i = (-N(v_i) - x_i + I - J(v_i - m))\,dt + \sigma\,dW_i$, $dx_i = (-a x_i + b v_i)\,dt$,
$N(v) = v(v-\lambda)(v-1)$. Frozen voltage operator: $W(v) = \int_0^v N + (x-I)v + \frac J2 (v-m)^2$,
$\theta = \sigma^2/2$. Limit ODE (6.4): $\dot\alpha = -N(\alpha) - \beta + I$, $\dot\beta = -a\beta + b\alpha$."""),
    ("code", """\
import numpy as np
import matplotlib.pyplot as plt
from effcoef import fhn
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
]


def build():
    nb = new_notebook()
    nb.cells = [new_markdown_cell(s) if k == "md" else new_code_cell(s) for k, s in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


if __name__ == "__main__":
    nbformat.write(build(), HERE / NAME)
