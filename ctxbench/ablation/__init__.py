"""Ablations: a spec (arms x seeds x budgets) expanded into hash-keyed jobs that survive kills."""
