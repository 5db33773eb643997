"""Experiments and sweeps behind docs/findings/: run from the repository root (`python -m experiments.…`)."""
