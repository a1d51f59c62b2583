"""Chat templates written out for tests (no hub download): the shapes of the templates the paper's models
ship, so rendering rules can be checked against the real switch without a real checkpoint."""

# Qwen3's switch: thinking off writes an empty think block after the assistant header
QWEN3_LIKE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and not enable_thinking %}<think>\n\n</think>\n\n{% endif %}{% endif %}"
)
# a template without the switch (Qwen3-VL-Instruct, Klear ...)
NO_SWITCH = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
             "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
