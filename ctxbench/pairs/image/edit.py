"""Image editing for contrastive pairs: an Editor interface, the local editors, and the locality check.

Why an interface: the paper edits natural images with an instruction-following generative editor and
keeps an edit only when it changes the answer and stays local to the answer-relevant region
(the ContextRL paper, §4.2). Offline, the edits are made by re-rendering a generated scene
(ctxbench.pairs.image.scenes) with the decisive object recoloured, moved or resized, one bar's value
changed or one label rewritten. A diffusion editor plugs into the same slot on a GPU machine:

    class Editor(Protocol):
        name: str
        def edit(self, image: np.ndarray, spec: EditSpec) -> EditResult: ...

`spec` carries both forms of the request, so any editor can serve it: `instruction` (text, for
instruction-following editors) and `target` (the edited scene, for renderers). The builder never
trusts an editor: `check_edit` measures the pixel difference against the region the edit was allowed
to touch (the decisive object before and after, dilated by a few pixels) and rejects
    too-global        more than `max_outside` of the pixels outside the region changed
    no-visible-change fewer than `min_changed` pixels changed inside it
The answer check ("answer-unchanged") happens in the builder, from the edited scene's own answer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ctxbench.core.errors import CtxbenchError


@dataclass(frozen=True)
class EditSpec:
    """One requested edit. `region` is where pixels may change (bool HxW); `answer` is what the edited
    image should answer; `source`/`target` are the scenes before/after (renderers use `target`)."""

    kind: str            # recolour | move | resize | reshape | bar-value | label
    instruction: str
    source: Any
    target: Any
    answer: str
    region: np.ndarray


@dataclass(frozen=True)
class EditResult:
    image: np.ndarray    # HxWx3 uint8, same size as the input
    mask: np.ndarray     # bool HxW: where the editor says it changed the image


@runtime_checkable
class Editor(Protocol):
    name: str

    def edit(self, image: np.ndarray, spec: EditSpec) -> EditResult: ...


def dilate(mask: np.ndarray, px: int) -> np.ndarray:
    """Binary dilation by a (2px+1)^2 square (antialiased edges and label glyphs spill a pixel)."""
    if px <= 0:
        return mask.copy()
    from scipy.ndimage import binary_dilation

    return binary_dilation(mask, structure=np.ones((2 * px + 1, 2 * px + 1), bool))


def edit_region(source, target, pad: int = 2) -> np.ndarray:
    """Where an edit of `source` into `target` may change pixels: the decisive object's footprint in
    both scenes (the same focus: the bar or label being edited), dilated by `pad` pixels."""
    before = dataclasses.replace(source, focus=target.focus) if hasattr(source, "focus") else source
    return dilate(before.footprint() | target.footprint(), pad)


class LocalEditor:
    """Re-renders the edited scene. Its claimed mask is the decisive object's footprint before and
    after; whether the pixels agree is for `check_edit` to say."""

    name = "local"

    def edit(self, image: np.ndarray, spec: EditSpec) -> EditResult:
        out = spec.target.render()
        if out.shape != image.shape:
            raise CtxbenchError(f"local editor: edited scene renders {out.shape}, source image is {image.shape}")
        before = dataclasses.replace(spec.source, focus=spec.target.focus) if hasattr(spec.source, "focus") \
            else spec.source
        return EditResult(out, before.footprint() | spec.target.footprint())


class DiffusionEditor:
    """Slot for an instruction-following diffusion editor (InstructPix2Pix-style, diffusers, GPU).

    Loads a local diffusers pipeline folder (nothing is downloaded) on first use and applies
    `spec.instruction`. The generated image is resized back to the input size; its mask is where it
    differs from the input by more than `tol`. The builder's locality check then decides, exactly as
    for the local editor. The editor cannot tell whether the answer really changed: pairs built with
    it record `editor = "diffusion"` in their provenance so a verifier (a VLM judge) can be run on them.
    """

    name = "diffusion"

    def __init__(self, model_path: str, device: str = "cuda", steps: int = 20, image_guidance: float = 1.5,
                 seed: int = 0, tol: int = 24):
        if not model_path:
            raise CtxbenchError("diffusion editor: set `diffusion_model` to a local diffusers pipeline folder "
                                "(e.g. an InstructPix2Pix checkpoint); nothing is downloaded")
        self.model_path, self.device, self.steps = model_path, device, steps
        self.image_guidance, self.seed, self.tol = image_guidance, seed, tol
        self._pipe = None

    def _load(self):
        if self._pipe is None:
            try:
                import diffusers
            except ImportError:
                raise CtxbenchError("diffusion editor: the `diffusers` package is not installed "
                                    "(pip install diffusers; it also needs a GPU and local weights). "
                                    "Use editor = \"local\" for the offline editors.") from None
            import torch

            if self.device.startswith("cuda") and not torch.cuda.is_available():
                raise CtxbenchError("diffusion editor: no CUDA device here; use editor = \"local\" on CPU")
            pipe = diffusers.StableDiffusionInstructPix2PixPipeline.from_pretrained(
                self.model_path, torch_dtype=torch.float16, local_files_only=True)
            self._pipe = pipe.to(self.device)
        return self._pipe

    def edit(self, image: np.ndarray, spec: EditSpec) -> EditResult:
        import torch
        from PIL import Image

        pipe = self._load()
        src = Image.fromarray(image)
        gen = torch.Generator(self.device).manual_seed(self.seed)
        out = pipe(spec.instruction, image=src, num_inference_steps=self.steps,
                   image_guidance_scale=self.image_guidance, generator=gen).images[0]
        arr = np.asarray(out.convert("RGB").resize(src.size, Image.BICUBIC))
        mask = np.abs(arr.astype(np.int16) - image.astype(np.int16)).max(-1) > self.tol
        return EditResult(arr, mask)


def make_editor(name: str, diffusion_model: str = "", device: str = "cuda") -> Editor:
    if name == "local":
        return LocalEditor()
    if name == "diffusion":
        return DiffusionEditor(diffusion_model, device)
    from ctxbench.core.errors import did_you_mean

    raise CtxbenchError(f"unknown editor {name!r}{did_you_mean(name, ['local', 'diffusion'])}")


@dataclass(frozen=True)
class EditCheck:
    reason: str | None       # None = accepted
    changed_inside: int      # pixels that changed inside the allowed region
    changed_outside: int     # ... and outside it
    outside_frac: float      # changed_outside / pixels outside the region

    def detail(self) -> str:
        return (f"{self.changed_inside} px changed inside the region, {self.changed_outside} outside "
                f"({100 * self.outside_frac:.2f}%)")


def pixel_diff(a: np.ndarray, b: np.ndarray, tol: int = 8) -> np.ndarray:
    """bool HxW: pixels whose largest channel difference exceeds `tol` (0-255)."""
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).max(-1) > tol


def check_edit(before: np.ndarray, after: np.ndarray, region: np.ndarray, *, tol: int = 8,
               max_outside: float = 0.002, min_changed: int = 6) -> EditCheck:
    """Is `after` a local edit of `before` within `region`? (see the module docstring)"""
    if before.shape != after.shape:
        return EditCheck("size-changed", 0, int(region.size), 1.0)
    d = pixel_diff(before, after, tol)
    inside, outside = int((d & region).sum()), int((d & ~region).sum())
    frac = outside / max(1, int((~region).sum()))
    reason = None
    if frac > max_outside:
        reason = "too-global"
    elif inside < min_changed:
        reason = "no-visible-change"
    return EditCheck(reason, inside, outside, frac)


__all__ = ["DiffusionEditor", "EditCheck", "EditResult", "EditSpec", "Editor", "LocalEditor", "check_edit",
           "dilate", "edit_region", "make_editor", "pixel_diff"]
