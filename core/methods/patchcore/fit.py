"""Fill PatchCore's memory bank from normal images: embed every patch, keep a greedy coreset.

Images are embedded a chunk at a time and each chunk's coreset candidates are picked while the next chunks are being
embedded (`ChunkedCoresetSampler`), so fitting costs the same per image however many images there are, and only a few
chunks' patch features are in memory at once. Embedding runs on a copy of the backbone with its batch norms folded
into the convolutions, in channels-last layout (PyTorch's CPU depthwise convolutions are several times faster in it),
as single-threaded streams side by side (`core.methods.common.threaded` says why).
"""

from __future__ import annotations

import copy
from collections.abc import Generator, Iterator
from contextlib import closing
from functools import partial

import torch

from core.jobs import CancelToken, Progress
from core.methods.common.batch_norm_folding import fold_batch_norms
from core.methods.common.chunked_coreset import ChunkedCoresetSampler
from core.methods.common.threaded import ordered_map, single_threaded_operators
from core.methods.config import ModelConfig
from core.methods.patchcore.settings import PatchcoreSettings
from core.methods.patchcore.torch_model import PatchcoreModel

EMBED_BATCH = 8  # images per forward pass: one task of a worker thread
CHUNK_IMAGES = 16  # images whose patches get one greedy pass; the cost per image grows with it, and the coverage


def fit_memory_bank(
    model: PatchcoreModel, images: torch.Tensor, config: ModelConfig, cancel: CancelToken,
    categories: torch.Tensor | None = None,  # one bank: a nearest neighbour needs no category
) -> Generator[Progress, None, None]:
    """Embed all images (N x 3 x S x S uint8), subsample `coreset_ratio` of the patches, store them in the model."""
    settings: PatchcoreSettings = config.settings
    ratio, neighbours, seed = settings.coreset_ratio, settings.neighbours, config.seed  # all this reads of the config
    model.eval()
    sampler = ChunkedCoresetSampler(ratio, seed=seed, cancel=cancel)
    with single_threaded_operators() as workers, torch.no_grad():
        embedder = fast_copy(model, images[:2])
        embedded = ordered_map(partial(embed_patches, embedder), _batches(images, cancel), workers,
                               ahead=2 * CHUNK_IMAGES // EMBED_BATCH)  # the next two chunks, while one is sampled
        with closing(embedded):  # on cancel or error: stop the workers now, not when garbage is collected
            bank = yield from sampler.run(_chunks(embedded), chunk_count=-(-len(images) // CHUNK_IMAGES))
    yield Progress(0, 0, f"indexing {len(bank)} memory entries", stage="index")
    with torch.no_grad():
        model.set_memory_bank(bank.contiguous(), neighbours)


def fast_copy(model: PatchcoreModel, probe: torch.Tensor) -> PatchcoreModel:
    """A copy of `model` for embedding only: batch norms folded, channels-last. Its embeddings are checked against
    the model's on `probe` images; where folding does not fit a backbone's layout, the copy is only channels-last."""
    with torch.no_grad():
        expected = model.embed(probe.float())
        folded = fold_batch_norms(model)
        got = folded.embed(probe.float())
    if not torch.allclose(got, expected, rtol=1e-3, atol=1e-4 * float(expected.abs().max())):
        folded = copy.deepcopy(model)
    return folded.to(memory_format=torch.channels_last)


def _batches(images: torch.Tensor, cancel: CancelToken) -> Iterator[torch.Tensor]:
    for start in range(0, len(images), EMBED_BATCH):
        cancel.raise_if_cancelled()
        yield images[start : start + EMBED_BATCH]


def embed_patches(model: PatchcoreModel, images: torch.Tensor) -> torch.Tensor:
    """Patch features (images x h x w) x C of a batch of uint8 images; runs on a worker thread."""
    with torch.no_grad():  # grad mode is per thread
        embedding = model.embed(images.float().contiguous(memory_format=torch.channels_last))
    return embedding.permute(0, 2, 3, 1).reshape(-1, embedding.shape[1])


def _chunks(batches: Iterator[torch.Tensor]) -> Iterator[torch.Tensor]:
    """Consecutive batches' patches joined into chunks of CHUNK_IMAGES images (the last may be smaller)."""
    per_chunk = max(1, CHUNK_IMAGES // EMBED_BATCH)
    group: list[torch.Tensor] = []
    for patches in batches:
        group.append(patches)
        if len(group) == per_chunk:
            yield torch.cat(group)
            group = []
    if group:
        yield torch.cat(group)
