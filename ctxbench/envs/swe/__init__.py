"""The mini-swe-agent-style loop: a model acting through bash in the shell sandbox.
"""
