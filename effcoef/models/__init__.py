"""Consumers of the coefficients: the kinetic and particle models of papers 000-004.

Each model imports the core (:func:`effcoef.coefficients`), never the other way round.

* :mod:`effcoef.models.swarming` - swarming SDE, Green-Kubo/MSD/linear-response Monte Carlo;
* :mod:`effcoef.models.runtumble` - run-and-tumble with an internal state (paper 002);
* :mod:`effcoef.models.fhn`, :mod:`effcoef.models.fhn_spatial` - FitzHugh-Nagumo networks
  (papers 000, 001);
* :mod:`effcoef.models.chemotaxis` - Cucker-Smale particles with a chemical (paper 003);
* :mod:`effcoef.models.montecarlo` - the shared Monte Carlo helpers (seeds, ``MCEstimate``,
  batch means, Green-Kubo integrals, acceptance bounds ``z_bound``) every model uses.
"""
