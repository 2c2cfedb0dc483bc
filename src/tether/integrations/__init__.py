"""Integrations with the tools ML engineers keep their results in (each an optional extra).

- :mod:`tether.integrations.mlflow`: log any result, or the report, to an MLflow run
  (``pip install 'tether[mlflow]'``).
"""
