"""The ctxbench arms on TRL's GRPOTrainer: the road to accelerate, DeepSpeed ZeRO, FSDP and vLLM rollouts.

    config.py   TrainConfig -> GRPOConfig, and a refusal for what TRL cannot express
    trainer.py  CtxbenchGRPOTrainer: the GRPOTrainer subclass (prompts, stops, rewards, advantages,
                the objective's auxiliary loss in the same step, the compact optimizer and schedule)
    engine.py   the run: the compact trainer's data, draw order, warm-up, DA-SFT stage and outputs
    metrics.py  TRL's log under the compact trainer's metric names

    from trainers.trl.engine import train_trl
    result = train_trl(cfg, root="runs")        # the same TrainResult as trainers.train

Importing this package is cheap; TRL loads with the modules that use it. Launched under
`accelerate launch` (configs/accelerate/), every process runs the same code; the main one writes.
"""
