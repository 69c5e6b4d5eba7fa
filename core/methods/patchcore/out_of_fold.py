"""PatchCore fitted on every normal image, and each image scored by a bank built without it (k-fold banks).

Why k-fold banks and not "the full bank minus the image's own entries": the greedy coreset keeps one entry per
covered region, so where an image's own patch was kept, the other images' patches of that region were dropped as
covered by it. Removing that entry leaves a hole that a bank built without the image would have filled: its score
would be too high (pessimistic), and most where the bank is sparsest. The entries' re-weighting neighbourhoods
(paper, Eq. 7) would also still be computed with it.

Why they are nearly free: the chunked coreset (`ChunkedCoresetSampler`) picks candidates per chunk of images and
then merges them. With chunks cut so that each holds images of one fold only, fold f's bank is the merge of the
other folds' chunk candidates: exactly the bank those images alone would have given, for the cost of a merge
(4 % of the rows) instead of a coreset. The images are embedded once for fitting and once more for scoring.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import closing
from functools import partial

import torch
from torch import Tensor

from core.jobs import CancelToken, Progress
from core.methods.common.chunked_coreset import ChunkedCoresetSampler
from core.methods.common.folds import assign_folds
from core.methods.common.threaded import ordered_map, single_threaded_operators
from core.methods.config import ModelConfig
from core.methods.patchcore.fit import CHUNK_IMAGES, EMBED_BATCH, embed_patches, fast_copy
from core.methods.patchcore.settings import PatchcoreSettings
from core.methods.patchcore.torch_model import PatchcoreModel


def fit_memory_bank_out_of_fold(
    model: PatchcoreModel, images: Tensor, config: ModelConfig, cancel: CancelToken, categories: Tensor | None,
    folds: int,
) -> Generator[Progress, None, tuple[Tensor, Tensor]]:
    """Fill `model`'s bank from all `images` (as `fit_memory_bank` does) and return every image's score (N) and
    map (N x S x S) from the bank of the other `folds - 1` folds."""
    settings: PatchcoreSettings = config.settings
    fold_of = assign_folds(categories, folds, len(images))
    model.eval()
    sampler = ChunkedCoresetSampler(settings.coreset_ratio, seed=config.seed, cancel=cancel)
    chunk_folds: list[int] = []
    with single_threaded_operators() as workers, torch.no_grad():
        embedder = fast_copy(model, images[:2])
        embedded = ordered_map(partial(_embed_tagged, embedder), _fold_batches(images, fold_of, folds, cancel),
                               workers, ahead=2 * CHUNK_IMAGES // EMBED_BATCH)
        with closing(embedded):
            candidates = yield from sampler.candidates(_fold_chunks(embedded, chunk_folds))
        yield Progress(0, 0, "merging the coreset", stage="index")
        model.set_memory_bank(sampler.merged(candidates).contiguous(), settings.neighbours)
        scores = torch.zeros(len(images))
        maps = torch.zeros(len(images), images.shape[-2], images.shape[-1])
        for fold in range(folds):
            members = (fold_of == fold).nonzero().ravel()
            others = [chunk for chunk, owner in zip(candidates, chunk_folds) if owner != fold]
            if len(members) == 0 or not others:
                continue
            yield Progress(fold, folds, f"scoring fold {fold + 1} of {folds} against the other folds' bank",
                           stage="out-of-fold")
            embedder.set_memory_bank(sampler.merged(others).contiguous(), settings.neighbours)
            batches = [members[start : start + EMBED_BATCH] for start in range(0, len(members), EMBED_BATCH)]
            scored = ordered_map(partial(_score, embedder, images), batches, workers, ahead=2)
            with closing(scored):
                for index, (batch_scores, batch_maps) in zip(batches, scored):
                    cancel.raise_if_cancelled()
                    scores[index], maps[index] = batch_scores, batch_maps[:, 0]
    yield Progress(folds, folds, "out-of-fold scores done", stage="out-of-fold")
    return scores, maps


def _fold_batches(images: Tensor, fold_of: Tensor, folds: int, cancel: CancelToken) -> Iterator[tuple[int, Tensor]]:
    """(fold, batch) in fold order: a batch never mixes folds."""
    for fold in range(folds):
        members = (fold_of == fold).nonzero().ravel()
        for start in range(0, len(members), EMBED_BATCH):
            cancel.raise_if_cancelled()
            yield fold, images[members[start : start + EMBED_BATCH]]


def _embed_tagged(model: PatchcoreModel, item: tuple[int, Tensor]) -> tuple[int, Tensor]:
    fold, batch = item
    return fold, embed_patches(model, batch)


def _fold_chunks(batches: Iterator[tuple[int, Tensor]], chunk_folds: list[int]) -> Iterator[Tensor]:
    """Batches joined into chunks of up to CHUNK_IMAGES images of ONE fold; each chunk's fold is appended to
    `chunk_folds` as it is yielded."""
    per_chunk = max(1, CHUNK_IMAGES // EMBED_BATCH)
    group: list[Tensor] = []
    group_fold = -1
    for fold, patches in batches:
        if group and (fold != group_fold or len(group) == per_chunk):
            chunk_folds.append(group_fold)
            yield torch.cat(group)
            group = []
        group.append(patches)
        group_fold = fold
    if group:
        chunk_folds.append(group_fold)
        yield torch.cat(group)


def _score(model: PatchcoreModel, images: Tensor, index: Tensor) -> tuple[Tensor, Tensor]:
    with torch.no_grad():
        return model(images[index].float().contiguous(memory_format=torch.channels_last))
