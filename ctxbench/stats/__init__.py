"""Statistics over stored items: paired deltas with two-level bootstrap intervals, tests, attribution,
the mechanism view. `arms` is the entry point; the others are its parts.
"""
