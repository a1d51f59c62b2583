"""Benchmarks read from their official file formats at a local path (never downloaded).
"""
