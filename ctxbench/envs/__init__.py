"""Environments code runs in or a model acts in: the Python sandbox, the shell sandbox, tracing,
the tau2 tool domains and the SWE agent loop. Used by benchmarks and pair builders alike.
"""
