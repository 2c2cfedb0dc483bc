"""Evaluation that cannot be flattered: intervals, prediction-powered inference, suites.

Example:
    >>> from tether.evaluate import classical_mean_ci
    >>> tuple(round(v, 3) for v in classical_mean_ci([0.0, 1.0, 1.0, 1.0]))
    (0.326, 1.174)
"""

from tether.evaluate.intervals import bootstrap_interval
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
    "ppi_lambda",
    "ppi_mean_ci",
    "ppi_mean_pointestimate",
]
