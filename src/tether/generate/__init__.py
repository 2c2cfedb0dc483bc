"""Generators of synthetic data: the model, rule and simulation families behind one interface."""

from tether.generate.base import Failure, GenerateResult, Generator, row_rng, run

__all__ = ["Generator", "Failure", "GenerateResult", "row_rng", "run"]
