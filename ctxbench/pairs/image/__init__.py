"""Image pairs: near-identical images from edits of rendered scenes and from similarity search.
"""
