"""Independent references: closed-form quadrature and asymptotics.

Nothing here imports the discretisation (:mod:`effcoef.fem1d`, :mod:`effcoef.fem2d`) or the
eigensolver (:mod:`effcoef.spectrum`); a test enforces it.  They check the solver.

* :mod:`effcoef.reference.quadrature` - the 1D integral formulas for D, K, V (double
  precision in log space, and mpmath);
* :mod:`effcoef.reference.asymptotics` - Eyring-Kramers asymptotics of the spectral gap.
"""
