"""ctxbench: does a post-training gain come from the objective or from the data?

Importing this package must stay cheap: no torch, transformers, vllm or vlmeval at import time.
Heavy backends are imported inside the functions that need them.
"""

__version__ = "0.1.0"
