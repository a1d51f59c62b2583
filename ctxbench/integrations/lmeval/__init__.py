"""lm-evaluation-harness: export the embedded benchmarks as tasks; run lm-eval tasks into the store.
"""
