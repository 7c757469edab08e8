"""Independent references: closed-form quadrature, a second discretisation, asymptotics.

Nothing here imports the discretisation (:mod:`effcoef.fem1d`, :mod:`effcoef.fem2d`), the
eigensolver (:mod:`effcoef.spectrum`), the solver's routes or its domain choice
(:mod:`effcoef.domain`, :mod:`potentials.intervals`, :mod:`potentials.bnb`); a test
(``tests/test_reference_panels.py``) enforces it.  They check the solver.

* :mod:`effcoef.reference.quadrature` - the 1D integral formulas for D, K, V (double
  precision in log space, and mpmath), on the reference's own certified domain;
* :mod:`effcoef.reference.radial` - the l = 1 channel of radial potentials by exponentially
  fitted finite volumes with Richardson extrapolation;
* :mod:`effcoef.reference.enclosure` - mpmath interval enclosures and the certified critical
  hull (the references' domain);
* :mod:`effcoef.reference.panels`, :mod:`effcoef.reference.floatbounds`,
  :mod:`effcoef.reference.mpeval` - panel bounds, vectorised float interval bounds, compiled
  mpmath evaluation of expression trees;
* :mod:`effcoef.reference.asymptotics` - Eyring-Kramers asymptotics of the spectral gap;
* :mod:`effcoef.reference.periodic` - periodic homogenisation in 1D: Lifson-Jackson, the tilted
  closed forms of Reimann et al., the stationary density, Eyring-Kramers for two wells per cell;
* :mod:`effcoef.reference.periodic_fourier` - Fourier Galerkin of the periodic cell problems
  (d = 1, 2), a second discretisation of a different kind;
* :mod:`effcoef.reference.spectral` - Chebyshev collocation of the 2D generator.
"""
