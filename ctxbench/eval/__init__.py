"""Evaluation: the harness (infer -> score -> rows, resumable), the one row/key builder, the SWE driver.
"""
