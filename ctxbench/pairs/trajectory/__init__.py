"""Trajectory pairs: contrastive contexts from sandboxed execution traces (HumanEval) and tau2 replays.
"""
