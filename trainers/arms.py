"""The arms by name: the one list of objectives, what the rest of ctxbench needs to know about each, and
the parameters they read (ObjectiveConfig). Plain data, no torch.

Why a module of its own: config validation, ablation specs, the CLI, the statistics' attribution and the
report's order and colours all need the objective names, and none of them may load torch or the trainer
(the report and the app never do; the config sits below the trainer's data code). So each arm is
declared here once, and the objects that implement it (trainers/objectives.py, one class per arm, same
name) register against this list: an implementation without a declaration is an error at import, and
tests/trainers/test_objective_contract.py checks that every declared arm has one and flows everywhere.

An arm's role says how the comparison treats it:

| role                | arms           | meaning                                                               |
| `baseline`          | grpo           | every delta is against it (exactly one)                               |
| `method`            | contextrl      | the objective whose gain is attributed to data vs objective (one)     |
| `data-augmentation` | da-rl, da-sft  | the same pairs fed as data: attribution is computed against each one  |
| `objective`         | (none yet)     | any other objective: compared with the baseline, not attributed       |

Adding an arm: docs/adding-an-objective.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from ctxbench.core.config import Choices
from ctxbench.core.errors import CtxbenchError, did_you_mean

ROLES = ("baseline", "method", "data-augmentation", "objective")


@dataclass(frozen=True)
class Arm:
    """One objective as the rest of ctxbench sees it.

    report_order: position in tables, legends and figures (ascending; the report's `base`, the starting
    checkpoint, comes before all). uses_pairs: the arm reads the contrastive pairs (`ctxbench train`
    builds the default pairs for it when none are given)."""

    name: str
    role: str
    color: str
    report_order: int
    uses_pairs: bool

    def __post_init__(self):
        if self.role not in ROLES:
            raise CtxbenchError(f"arm {self.name!r}: role {self.role!r} is not one of {', '.join(ROLES)}")
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", self.color):
            raise CtxbenchError(f"arm {self.name!r}: color must be #rrggbb, got {self.color!r}")


_ARMS: dict[str, Arm] = {}  # declaration order: the CLI's order and the attribution's order of DA arms


def declare(arm: Arm) -> Arm:
    """Add an arm; a name or report position used twice is an error."""
    if arm.name in _ARMS and _ARMS[arm.name] != arm:
        raise CtxbenchError(f"objective {arm.name!r} declared twice")
    taken = {a.report_order: a.name for a in _ARMS.values() if a.name != arm.name}
    if arm.report_order in taken:
        raise CtxbenchError(f"objective {arm.name!r}: report_order {arm.report_order} is taken by {taken[arm.report_order]!r}")
    _ARMS[arm.name] = arm
    return arm


def get_arm(name: str) -> Arm:
    try:
        return _ARMS[name]
    except KeyError:
        raise CtxbenchError(f"unknown objective {name!r}{did_you_mean(name, _ARMS)}") from None


def arm_names() -> tuple[str, ...]:
    """Every objective, in declaration order."""
    return tuple(_ARMS)


def report_order() -> tuple[str, ...]:
    """Every objective in the report's order (baseline first, the method last)."""
    return tuple(sorted(_ARMS, key=lambda n: _ARMS[n].report_order))


def with_role(role: str) -> tuple[str, ...]:
    if role not in ROLES:
        raise CtxbenchError(f"unknown arm role {role!r}{did_you_mean(role, ROLES)}")
    return tuple(n for n, a in _ARMS.items() if a.role == role)


def _the(role: str) -> str:
    names = with_role(role)
    if len(names) != 1:
        raise CtxbenchError(f"exactly one objective must have role {role!r}, got {list(names)}")
    return names[0]


def baseline() -> str:
    """The arm every delta is against (grpo)."""
    return _the("baseline")


def method() -> str:
    """The arm whose gain the attribution decomposes (contextrl)."""
    return _the("method")


def data_augmentation() -> tuple[str, ...]:
    """The data-augmentation controls, in declaration order (the attribution's order)."""
    return with_role("data-augmentation")


def names_text() -> str:
    """'grpo, contextrl, da-rl or da-sft': the arms for help texts."""
    names = arm_names()
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


# What each arm does: trainers/objectives.py.
GRPO = declare(Arm("grpo", role="baseline", color="#1f77b4", report_order=10, uses_pairs=False))
declare(Arm("contextrl", role="method", color="#2ca02c", report_order=90, uses_pairs=True))
declare(Arm("da-rl", role="data-augmentation", color="#9467bd", report_order=30, uses_pairs=True))
declare(Arm("da-sft", role="data-augmentation", color="#ff7f0e", report_order=20, uses_pairs=True))

ObjectiveName = Annotated[str, Choices(arm_names)]


@dataclass(frozen=True)
class ObjectiveConfig:
    """What differs between arms. ca_coef is λ, margin_clip is c (ContextRL); sft_* drive the DA-SFT
    stage (supervised A/B answers on the same pairs, before GRPO)."""

    name: ObjectiveName = GRPO.name
    ca_coef: float = 0.005
    margin_clip: float = 5.0
    sft_epochs: int = 1
    sft_lr: float = 1e-5
    sft_batch_size: int = 8

    def __post_init__(self):
        if self.margin_clip <= 0:
            raise ValueError("objective.margin_clip must be > 0")
        if self.ca_coef < 0:
            raise ValueError("objective.ca_coef must be >= 0")
