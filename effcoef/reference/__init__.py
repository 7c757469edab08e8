"""Independent references: closed-form quadrature and asymptotics.

Nothing here imports the discretisation (:mod:`effcoef.fem1d`, :mod:`effcoef.fem2d`) or the
eigensolver (:mod:`effcoef.spectrum`); a test enforces it.  They check the solver.

* :mod:`effcoef.reference.quadrature` - the 1D integral formulas for D, K, V (double
  precision in log space, and mpmath);
* :mod:`effcoef.reference.asymptotics` - Eyring-Kramers asymptotics of the spectral gap;
* :mod:`effcoef.reference.periodic` - periodic homogenisation in 1D: Lifson-Jackson, the tilted
  closed forms of Reimann et al., the stationary density, Eyring-Kramers for two wells per cell;
* :mod:`effcoef.reference.periodic_fourier` - Fourier Galerkin of the periodic cell problems
  (d = 1, 2), a second discretisation of a different kind.
"""
