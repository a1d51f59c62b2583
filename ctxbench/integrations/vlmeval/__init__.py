"""VLMEvalKit: run it in a subprocess (runner) and ingest its predictions item by item (bridge).
"""
