"""The tau2-bench airline and retail tool domains, their databases and gold-call replay.
"""
