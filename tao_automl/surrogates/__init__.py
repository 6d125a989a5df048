"""Surrogate models behind the model-based algorithms (a GP and the Optuna sampler that uses it)."""
