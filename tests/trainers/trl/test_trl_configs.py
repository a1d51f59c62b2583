"""The cluster configs in configs/accelerate/ are valid for the tools that read them (offline, no GPU).

- every YAML loads through accelerate's own ClusterConfig (which rejects unknown top-level keys), and
  every key of its fsdp_config / deepspeed_config is an option of `accelerate launch` (the launcher
  turns them into its environment; an unknown key there would be silently ignored, so it is checked
  here), with values from accelerate's own lists where it has them;
- zero3.json: its keys are DeepSpeed config names (DeepSpeed 0.19.8: runtime/constants.py for the top
  level, runtime/zero/config.py for zero_optimization, a pydantic model that forbids extra keys; run
  through that model too when DeepSpeed is installed), ZeRO stage 3, and every "auto" is one that
  transformers' HfTrainerDeepSpeedConfig fills from the TrainingArguments (deepspeed.py:
  trainer_config_process / trainer_config_finalize), so the training config decides them. It gathers
  16-bit weights on save, which the engine's get_state_dict needs under ZeRO-3.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "accelerate"
REPO = CONFIGS.parents[1]
DS_TOP = {"bf16", "fp16", "zero_optimization", "gradient_accumulation_steps", "gradient_clipping", "train_batch_size",
          "train_micro_batch_size_per_gpu", "zero_allow_untested_optimizer", "steps_per_print", "wall_clock_breakdown"}
DS_ZERO = {"stage", "overlap_comm", "contiguous_gradients", "reduce_bucket_size", "reduce_scatter",
           "allgather_partitions", "allgather_bucket_size", "offload_param", "offload_optimizer", "sub_group_size",
           "stage3_prefetch_bucket_size", "stage3_param_persistence_threshold", "stage3_max_live_parameters",
           "stage3_max_reuse_distance", "stage3_gather_16bit_weights_on_model_save"}
HF_FILLS = {"train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "train_batch_size", "gradient_clipping",
            "bf16.enabled", "fp16.enabled", "zero_optimization.reduce_bucket_size",
            "zero_optimization.stage3_prefetch_bucket_size", "zero_optimization.stage3_param_persistence_threshold"}


def launch_options() -> set[str]:
    from accelerate.commands.launch import launch_command_parser

    return {o.lstrip("-") for a in launch_command_parser()._actions for o in a.option_strings}


@pytest.mark.parametrize("name, kind, processes", [("single_gpu", "NO", 1), ("node8_fsdp", "FSDP", 8),
                                                   ("node8_zero3", "DEEPSPEED", 8)])
def test_accelerate_configs_load_and_use_known_keys(name, kind, processes):
    from accelerate.commands.config.config_args import ClusterConfig
    from accelerate.utils import constants

    cfg = ClusterConfig.from_yaml_file(str(CONFIGS / f"{name}.yaml"))
    assert cfg.distributed_type.value == kind and cfg.num_processes == processes and not cfg.use_cpu
    opts = launch_options()
    for section in (cfg.fsdp_config or {}, cfg.deepspeed_config or {}):
        assert set(section) <= opts, set(section) - opts
    if kind == "FSDP":
        assert cfg.fsdp_config["fsdp_auto_wrap_policy"] in constants.FSDP_AUTO_WRAP_POLICY
        assert cfg.fsdp_config["fsdp_state_dict_type"] in constants.FSDP_STATE_DICT_TYPE
        assert cfg.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"  # save_pretrained-able checkpoints
    if kind == "DEEPSPEED":
        assert (REPO / cfg.deepspeed_config["deepspeed_config_file"]).is_file()
        assert cfg.mixed_precision is None  # accelerate refuses it beside a deepspeed_config_file


def _autos(d: dict, prefix: str = "") -> set[str]:
    out = set()
    for k, v in d.items():
        if isinstance(v, dict):
            out |= _autos(v, f"{prefix}{k}.")
        elif v == "auto":
            out.add(prefix + k)
    return out


def test_zero3_json_is_a_deepspeed_config_the_trainer_completes():
    from accelerate.utils.deepspeed import HfDeepSpeedConfig

    ds = json.loads((CONFIGS / "zero3.json").read_text())
    assert set(ds) <= DS_TOP, set(ds) - DS_TOP
    assert set(ds["zero_optimization"]) <= DS_ZERO, set(ds["zero_optimization"]) - DS_ZERO
    hf = HfDeepSpeedConfig(ds)
    assert hf.is_zero3() and hf.get_value("zero_optimization.stage3_gather_16bit_weights_on_model_save")
    assert _autos(ds) <= HF_FILLS, _autos(ds) - HF_FILLS
    assert "optimizer" not in ds and "scheduler" not in ds  # the engine's AdamW and LR schedule are used


def test_zero3_json_through_deepspeeds_own_model():
    pytest.importorskip("deepspeed", reason="DeepSpeed is a GPU-box install; the key lists above stand in for it")
    from deepspeed.runtime.zero.config import DeepSpeedZeroConfig

    zero = json.loads((CONFIGS / "zero3.json").read_text())["zero_optimization"]
    DeepSpeedZeroConfig(**{k: (1000 if v == "auto" else v) for k, v in zero.items()})


def test_the_key_check_catches_a_typo(tmp_path):
    from accelerate.commands.config.config_args import ClusterConfig

    bad = tmp_path / "bad.yaml"
    bad.write_text((CONFIGS / "node8_fsdp.yaml").read_text().replace("fsdp_offload_params", "fsdp_ofload_params"))
    cfg = ClusterConfig.from_yaml_file(str(bad))  # accelerate itself accepts it ...
    assert not set(cfg.fsdp_config) <= launch_options()  # ... the launcher would ignore it: caught here
