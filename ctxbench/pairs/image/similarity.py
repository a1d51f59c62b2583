"""Similarity search for image contrastive pairs: embed, find near neighbours, keep different answers.

Why: for structured images (charts, diagrams) the paper retrieves pairs instead of editing them:
embed every image, keep couples (I, I') asked the same question with cos >= 0.85 and different
answers (the ContextRL paper, §4.2). No CLIP/SigLIP-style encoder ships weights in a registry
package on the registries this project installs from, so the offline embedder is a classical descriptor:

    d(I) = [ sqrt(w) * hist(I) / |hist(I)| ,  sqrt(1 - w) * hog(I) / |hog(I)| ]

a joint RGB colour histogram (4 bins per channel, square-rooted: the Hellinger embedding, so small
coloured regions are not drowned by the background) and a HOG descriptor of the grey image at 64x64
(shape and layout). Both halves are unit vectors, so cos(d, d') = w cos_hist + (1 - w) cos_hog.
`embedder = "hf:PATH"` uses a local transformers vision encoder instead (a CLIP/SigLIP-style model
whose weights are on disk: `get_image_features`, L2-normalised).

Sources: easy-VQA's packaged training images with their questions, and generated bar charts
(ctxbench.pairs.image.scenes.ChartScene) with value questions. A candidate is an image and one of its
k nearest neighbours among the images asked the same question in the same split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

HOG_SIZE = 64


def colour_hist(img: np.ndarray, bins: int = 4) -> np.ndarray:
    q = (img[..., :3].astype(np.int32) * bins) // 256
    idx = (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]
    h = np.bincount(idx.ravel(), minlength=bins ** 3).astype(np.float64)
    h = np.sqrt(h / max(1.0, h.sum()))
    return h / max(np.linalg.norm(h), 1e-12)


def hog_vector(img: np.ndarray) -> np.ndarray:
    from PIL import Image
    from skimage.feature import hog

    g = np.asarray(Image.fromarray(img[..., :3]).convert("L").resize((HOG_SIZE, HOG_SIZE), Image.BILINEAR),
                   dtype=np.float64) / 255.0
    v = hog(g, orientations=9, pixels_per_cell=(16, 16), cells_per_block=(2, 2), feature_vector=True)
    return v / max(np.linalg.norm(v), 1e-12)


def classical_descriptor(img: np.ndarray, colour_weight: float = 0.5) -> np.ndarray:
    """Unit-norm colour-histogram + HOG descriptor (see the module docstring)."""
    return np.concatenate([np.sqrt(colour_weight) * colour_hist(img),
                           np.sqrt(1.0 - colour_weight) * hog_vector(img)])


class Embedder:
    """images (HxWx3 uint8 arrays) -> unit-norm rows [N, D]."""

    name = "classical"

    def __init__(self, spec: str = "classical", colour_weight: float = 0.5):
        self.spec, self.colour_weight = spec, colour_weight
        self._model = None
        if spec != "classical" and not spec.startswith("hf:"):
            from ctxbench.core.errors import ConfigError

            raise ConfigError(f"embedder must be 'classical' or 'hf:PATH' (a local vision encoder), not {spec!r}")
        self.name = spec

    def __call__(self, images: list[np.ndarray]) -> np.ndarray:
        if not images:
            return np.zeros((0, 1))
        if self.spec == "classical":
            return np.stack([classical_descriptor(im, self.colour_weight) for im in images])
        return self._hf(images)

    def _hf(self, images: list[np.ndarray], batch: int = 32) -> np.ndarray:
        import torch
        from PIL import Image

        from ctxbench.core.errors import CtxbenchError

        if self._model is None:
            from transformers import AutoImageProcessor, AutoModel

            path = self.spec[3:]
            try:
                self._proc = AutoImageProcessor.from_pretrained(path, local_files_only=True)
                self._model = AutoModel.from_pretrained(path, local_files_only=True).eval()
            except OSError as e:
                raise CtxbenchError(f"embedder {self.spec}: cannot load a local vision encoder ({e})") from None
        out = []
        with torch.no_grad():
            for i in range(0, len(images), batch):
                px = self._proc(images=[Image.fromarray(im) for im in images[i:i + batch]], return_tensors="pt")
                f = self._model.get_image_features(pixel_values=px["pixel_values"])
                f = getattr(f, "pooler_output", f)
                out.append(torch.nn.functional.normalize(f.float(), dim=-1).numpy())
        return np.concatenate(out)


@dataclass
class Pool:
    """Images asked one question: ids, answers, split groups and the embedding matrix (rows unit-norm)."""

    query: str
    ids: list[str]
    answers: list[str]
    groups: list[str]
    keys: list[str]                 # content hashes (identical images share one)
    emb: np.ndarray = field(repr=False)


def neighbours(pool: Pool, k: int) -> list[tuple[int, int, float]]:
    """(i, j, cos) for each image i and its k most similar other images j (most similar first)."""
    if len(pool.ids) < 2:
        return []
    sim = pool.emb @ pool.emb.T
    np.fill_diagonal(sim, -np.inf)
    k = min(k, len(pool.ids) - 1)
    out = []
    for i in range(len(pool.ids)):
        top = np.argpartition(-sim[i], k - 1)[:k]
        for j in sorted(top, key=lambda j: (-sim[i, j], j)):
            out.append((i, int(j), float(sim[i, j])))
    return out


# ------------------------------------------------------------------------------------------ sources


def easyvqa_sources(n_images: int, seed: int) -> list[tuple[str, str, str, str]]:
    """(image id, image path, question, answer) for the first `n_images` easy-VQA training images (by
    id; 0 = all 4,000), every question asked of them."""
    import easy_vqa

    qs, ans, ids = easy_vqa.get_train_questions()
    paths = easy_vqa.get_train_image_paths()
    keep = set(sorted(paths)[:n_images]) if n_images else set(paths)
    return [(f"easy-vqa/train/{i}", paths[i], q, a) for q, a, i in zip(qs, ans, ids) if i in keep]


def chart_sources(n_charts: int, seed: int):
    """(chart id, scene, question, answer) for generated bar charts: the value of each bar, the largest."""
    import random

    from ctxbench.core.hashing import stable_hash
    from ctxbench.pairs.image.scenes import CATEGORIES, ChartScene

    rng = random.Random(stable_hash(["image-pairs", "charts", seed]))
    out = []
    for _ in range(n_charts):
        s = ChartScene.sample(rng)
        sid = "chart/" + stable_hash([s.values, s.colour, s.title], 12)
        for f in range(len(CATEGORIES)):
            q = ChartScene(s.values, s.colour, s.title, f)
            out.append((sid, q, q.query("value"), q.answer("value")))
        a = s.answer("largest")
        if a is not None:
            out.append((sid, s, s.query("largest"), a))
    return out


__all__ = ["Embedder", "Pool", "chart_sources", "classical_descriptor", "colour_hist", "easyvqa_sources",
           "hog_vector", "neighbours"]
