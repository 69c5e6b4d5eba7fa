"""Fill PatchCore's memory bank from normal images: embed every patch, keep a greedy coreset."""

from __future__ import annotations

from collections.abc import Generator

import torch

from core.jobs import CancelToken, Progress
from core.methods.common.coreset import GreedyCoresetSampler
from core.methods.config import ModelConfig
from core.methods.patchcore.settings import PatchcoreSettings
from core.methods.patchcore.torch_model import PatchcoreModel

EMBED_BATCH = 16


def fit_memory_bank(
    model: PatchcoreModel, images: torch.Tensor, config: ModelConfig, cancel: CancelToken
) -> Generator[Progress, None, None]:
    """Embed all images (N x 3 x S x S uint8), subsample `coreset_ratio` of the patches, store them in the model."""
    model.eval()
    embeddings = []
    with torch.no_grad():
        for start in range(0, len(images), EMBED_BATCH):
            cancel.raise_if_cancelled()
            embedding = model.embed(images[start : start + EMBED_BATCH].float())
            embeddings.append(embedding.permute(0, 2, 3, 1).reshape(-1, embedding.shape[1]))
            yield Progress(min(start + EMBED_BATCH, len(images)), len(images), "extracting patch features", stage="embed")
    settings: PatchcoreSettings = config.settings
    patches = torch.cat(embeddings)
    del embeddings
    size = max(1, round(settings.coreset_ratio * len(patches)))
    sampler = GreedyCoresetSampler(size, seed=config.seed, cancel=cancel)
    with torch.no_grad():
        selected = yield from sampler.run(patches)
        yield Progress(0, 0, f"indexing {size} memory entries", stage="index")
        model.set_memory_bank(patches[selected].clone(), settings.neighbours)
