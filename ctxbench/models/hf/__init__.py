"""The transformers backends: text generation/scoring, vision-language, the decode loop and the dense
Llama-family forward.
"""
