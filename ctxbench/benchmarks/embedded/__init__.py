"""Benchmarks generated or packaged with ctxbench: they run offline with no user data.
"""
