"""Bridges to other evaluation tools: lm-eval (both ways) and VLMEvalKit (in a subprocess).
"""
