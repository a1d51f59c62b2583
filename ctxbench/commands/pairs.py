"""`ctxbench pairs build|import`: contrastive context pairs, built here or read from the paper's release.

`build` prints the cascade's yield per stage (what entered, what was kept, why the rest was rejected),
writes the pairs JSONL under `<root>/pairs/`, and writes store shards (pairs with their differing line
ranges, every rejection with its stage and reason) that `ingest` makes visible in the app.
`import` reads a released file (ctxbench.pairs.released: the agentic CT JSONL or an EasyR1 mixed
dataset), writes its pairs and store rows the same way and prints how many pairs (and, for EasyR1, how
many GRPO rows) it found.
"""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("pairs", help="build contrastive (Q, A, C+, C-) pairs and show the cascade's yield",
                       description="Contrastive context pairs for ContextRL and the data-augmentation baselines.")
    psub = p.add_subparsers(dest="pairs_command", metavar="ACTION")
    b = psub.add_parser("build", help="run the condition-filtering cascade and write the pairs",
                        description="Same program or task -> same function or tool sequence -> contexts that "
                                    "differ in a decisive region and support different answers -> masking and "
                                    "shortcut filters -> dedupe and caps. Deterministic; a finished build is reused.")
    b.add_argument("--domain", default="trajectory", choices=["trajectory", "image", "notes"],
                   help="which pair builder: trajectory (default), image (editing + similarity search) or notes "
                        "(generated one-note pairs, the default ablation's)")
    b.add_argument("--config", help="TOML with TrajectoryPairsConfig keys (top level, or an ablation spec's [pairs] table)")
    b.add_argument("--max-pairs", type=int)
    b.add_argument("--max-per-source", type=int)
    b.add_argument("--heldout-frac", type=float, help="share of source programs/tasks held out (default 0.3)")
    b.add_argument("--max-tokens", type=int, dest="max_prompt_tokens", help="A/B prompt token budget (default 900)")
    b.add_argument("--max-length-gap", type=float, help="max relative token difference of the two contexts")
    b.add_argument("--humaneval-limit", type=int, help="use only the first N HumanEval problems (0: none)")
    b.add_argument("--tau2-domains", help="comma-separated tau2 domains ('' for none; default airline,retail)")
    b.add_argument("--tokenizer", help="count tokens with this model's tokenizer (preset or hf:PATH; default len/4)")
    b.add_argument("--methods", help="image: comma-separated edit,similarity (default both)")
    b.add_argument("--editor", choices=["local", "diffusion"], help="image: the editor (default local)")
    b.add_argument("--min-cos", type=float, help="image: similarity threshold (default 0.85)")
    b.add_argument("--seed", type=int)
    b.add_argument("--force", action="store_true", help="rebuild even when this config was built before")
    b.add_argument("--no-ingest", action="store_true", help="leave the shards for a later `ctxbench ingest`")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.set_defaults(func=run_build)
    i = psub.add_parser("import", help="read the paper's released contrastive data as pairs",
                        description="Read a released contrastive-data file: the ContextRL agentic CT JSONL "
                                    "(prompt, correct_answer) or an EasyR1 mixed dataset (its choose-image rows; "
                                    "the QA rows are counted, they feed GRPO through the easyr1-qa task). Writes "
                                    "the pairs and the store rows like `pairs build`. See docs/released-data.md.")
    i.add_argument("file", help="the released file (agentic .jsonl; easyr1 .parquet/.jsonl or the dataset folder)")
    i.add_argument("--format", default="auto", choices=["auto", "contextrl-agentic", "easyr1"],
                   help="the file's format (default: detected from the file)")
    i.add_argument("--out", help="folder for pairs.jsonl (default <root>/pairs/released-<format>-<id>)")
    i.add_argument("--heldout-frac", type=float, default=0.0,
                   help="share of the pairs held out for the probe (default 0: every pair trains, as the paper)")
    i.add_argument("--prefill", default="", help="assistant text before the letter, stored with each pair")
    i.add_argument("--force", action="store_true", help="re-import even when this file was imported before")
    i.add_argument("--no-ingest", action="store_true", help="leave the shards for a later `ctxbench ingest`")
    i.set_defaults(func=run_import)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def config_from_args(args: argparse.Namespace):
    from ctxbench.core.config import read_toml
    from ctxbench.pairs.domains import pairs_config

    base = read_toml(args.config) if args.config else {}
    if isinstance(base.get("pairs"), dict):
        base = base["pairs"]
    if args.domain == "image" or base.get("domain") == "image":
        from ctxbench.core.errors import ConfigError

        text_only = [f"--{k.replace('_', '-')}" for k in ("max_prompt_tokens", "max_length_gap", "humaneval_limit",
                                                         "tau2_domains", "tokenizer") if getattr(args, k) is not None]
        if text_only:
            raise ConfigError(f"{', '.join(text_only)}: trajectory-only option(s), not used by --domain image")
        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip()) if args.methods else None
        return pairs_config(base, domain="image", max_pairs=args.max_pairs, max_per_source=args.max_per_source,
                            heldout_frac=args.heldout_frac, seed=args.seed, methods=methods, editor=args.editor,
                            min_cos=args.min_cos)
    tau2 = None
    if args.tau2_domains is not None:
        tau2 = tuple(d.strip() for d in args.tau2_domains.split(",") if d.strip())
    return pairs_config(base, domain=args.domain, max_pairs=args.max_pairs, max_per_source=args.max_per_source,
                        heldout_frac=args.heldout_frac, max_prompt_tokens=args.max_prompt_tokens,
                        max_length_gap=args.max_length_gap, humaneval_limit=args.humaneval_limit,
                        tau2_domains=tau2, tokenizer=args.tokenizer, seed=args.seed)


def run_build(args: argparse.Namespace) -> int:
    from ctxbench.commands import root_of
    from ctxbench.pairs.domains import build_pairs

    cfg = config_from_args(args)
    root = root_of(args)
    res = build_pairs(cfg, root, progress=not args.quiet, force=args.force)
    if res.cached:
        print(f"(reusing the finished build {res.build_id}; --force rebuilds)")
    print(res.summary())
    if not args.no_ingest:  # also for a reused build: a run killed before its ingest left shards unread
        from ctxbench.store.ingest import ingest  # (idempotent: a stat per shard when nothing is new)

        ingest(root, progress=False)
    return 0


def run_import(args: argparse.Namespace) -> int:
    from ctxbench.commands import root_of
    from ctxbench.core.config import load_config
    from ctxbench.pairs.released import ReleasedPairsConfig, import_pairs

    cfg = load_config(ReleasedPairsConfig, {"file": args.file, "format": args.format,
                                            "heldout_frac": args.heldout_frac, "prefill": args.prefill})
    root = root_of(args)
    res = import_pairs(cfg, root, out=args.out, force=args.force)
    print(res.summary())
    if not args.no_ingest:
        from ctxbench.store.ingest import ingest

        ingest(root, progress=False)
    return 0
