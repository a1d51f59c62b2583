"""Where bytes come from: packaged offline assets, user data files (JSONL/Parquet), the image store.
"""
