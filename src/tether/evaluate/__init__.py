"""Evaluation that cannot be flattered: intervals, prediction-powered inference, suites.

Example:
    >>> from tether.evaluate import wilson_interval
    >>> tuple(round(v, 3) for v in wilson_interval(45, 50))
    (0.786, 0.957)
"""

from tether.evaluate.intervals import (
    bootstrap_interval,
    newcombe_interval,
    wilson_interval,
    z_interval,
)
from tether.evaluate.ppi import (
    EstimateResult,
    classical_mean_ci,
    estimate,
    ppi_lambda,
    ppi_mean_ci,
    ppi_mean_pointestimate,
)
from tether.evaluate.suites import EvalResult, evaluate_suites, family_matches

__all__ = [
    "EstimateResult",
    "EvalResult",
    "bootstrap_interval",
    "classical_mean_ci",
    "estimate",
    "evaluate_suites",
    "family_matches",
    "newcombe_interval",
    "ppi_lambda",
    "ppi_mean_ci",
    "ppi_mean_pointestimate",
    "wilson_interval",
    "z_interval",
]
