"""The model preset contract, checked over every registered preset (ctxbench/models/presets/registry.py).

Each preset has a description and reports a status without loading a model (`ctxbench models`); its
name parses as a model spec; and it resolves offline to a local checkpoint with a content identity.
Every preset is built here unless EXPENSIVE says why not (then only its status is checked), so a new
preset is exercised without editing this file. `hf:PATH` takes a folder: a missing one is a clear error.
"""

from __future__ import annotations

import pytest

from ctxbench.core.errors import CtxbenchError
from ctxbench.models.presets.registry import PRESETS, parse_spec, preset_status, resolve_model

# preset -> why the contract does not build it
EXPENSIVE = {
    "smollm2-135m": "converts a 540 MB GGUF (~30 s); the slow test_presets.py::test_smollm2_conversion builds it",
}
TAKES_PATH = "hf"  # hf:PATH, checked on a missing folder below (and on real folders in test_presets.py)


@pytest.mark.parametrize("name", PRESETS.names())
def test_describes_itself_and_reports_status(name):
    preset = PRESETS.get(name)
    assert preset.name == name and preset.description.strip()
    status = {s.name: s for s in preset_status()}[name]
    assert isinstance(status.available, bool) and isinstance(status.installed, bool) and status.detail.strip()
    assert status.available or not status.installed  # installed implies usable


@pytest.mark.parametrize("name", [n for n in PRESETS.names() if n != TAKES_PATH])
def test_name_is_a_model_spec(name):
    assert parse_spec(name) == (name, None)


@pytest.mark.parametrize("name", [n for n in PRESETS.names() if n != TAKES_PATH])
def test_resolves_offline_to_an_identified_checkpoint(name):
    if name in EXPENSIVE:
        status = {s.name: s for s in preset_status()}[name]
        assert status.detail.strip()
        pytest.skip(EXPENSIVE[name])
    resolved = resolve_model(name)
    assert resolved.spec == name and (resolved.path / "config.json").is_file()
    assert len(resolved.identity) == 16 and int(resolved.identity, 16) >= 0
    assert resolved.max_context > 0
    assert resolve_model(name).identity == resolved.identity  # built once, then reused


def test_expensive_list_names_registered_presets():
    assert set(EXPENSIVE) <= set(PRESETS.names()) and TAKES_PATH in PRESETS


def test_hf_on_a_missing_folder_is_a_clear_error(tmp_path):
    missing = tmp_path / "no-such-checkpoint"
    with pytest.raises(CtxbenchError, match=f"folder {missing} does not exist"):
        resolve_model(f"hf:{missing}")
