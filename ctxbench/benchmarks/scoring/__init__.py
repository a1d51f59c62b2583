"""Scoring functions shared by benchmarks (and used as RL rewards): answer extraction, code
extraction, VQA answer matching and math normalisation.
"""
