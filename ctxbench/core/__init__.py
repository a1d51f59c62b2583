"""Foundation: typed config loading, errors, the registry, hashing, paths, versions, atomic writes.

Nothing here imports anything else from ctxbench.
"""
