"""Model presets by name (`tiny`, `smollm2-135m`, `tiny-vlm`, `hf:PATH`) and how each is built or located.
"""
