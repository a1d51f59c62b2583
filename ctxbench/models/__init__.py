"""Model presets and backends. Nothing here imports torch at package import time."""
