"""`ctxbench models`: list model presets and whether their offline assets are installed."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list model presets and whether their assets are installed",
                       description="Model presets (tiny, smollm2-135m, ...) and hf:PATH. Nothing is downloaded.")
    p.set_defaults(func=run)


def run(args) -> int:
    from ctxbench.models.presets.registry import preset_status

    for row in preset_status():
        state = "ready" if row.installed else ("on first use" if row.available else "MISSING")
        print(f"{row.name:<16} {state:<13} {row.detail}")
    print("hf:PATH          any local transformers checkpoint directory (what `ctxbench train` writes)")
    return 0
