"""Fit CFA on normal images: build the memory bank of target-oriented features, then train the descriptor."""

from __future__ import annotations

from collections.abc import Generator, Sequence

import torch
from torch import nn

from core.jobs import CancelToken, Progress
from core.methods.common.gradient_fit import fit_by_gradient
from core.methods.config import ModelConfig
from core.methods.cfa.loss import coupled_hypersphere_loss
from core.methods.cfa.settings import CfaSettings
from core.methods.cfa.torch_model import CfaModel

EMBED_BATCH = 16


def fit_cfa(model: CfaModel, images: torch.Tensor, config: ModelConfig, cancel: CancelToken,
            categories: torch.Tensor | None = None,  # one bank and descriptor for all: unused
            ) -> Generator[Progress, None, None]:
    """Memory bank first (paper, Sec. 3.2), then AdamW on the soft-boundary loss (lr 1e-3, weight decay 5e-4, AMSGrad,
    as the official code). `images` is N x 3 x S x S uint8; batches are converted to float as they are used."""
    settings: CfaSettings = config.settings
    bank = yield from initial_memory_bank(model, images, cancel)
    if settings.gamma_c > 1:
        yield Progress(0, 0, f"compressing {len(bank)} memory entries by K-means", stage="memory")
        bank = k_means_centroids(bank, max(1, len(bank) // settings.gamma_c), config.seed)
    model.set_memory_bank(bank)

    optimiser = descriptor_optimiser(list(model.descriptor.parameters()), settings.learning_rate)
    yield from fit_by_gradient(model, optimiser, images,
                               lambda batch, frozen: coupled_hypersphere_loss(*model.hypersphere_terms(batch, frozen)),
                               settings.epochs, settings.batch_size, config.seed, cancel,
                               frozen_features=model.frozen_features)


def descriptor_optimiser(parameters: Sequence[nn.Parameter], learning_rate: float) -> torch.optim.Optimizer:
    """AdamW, weight decay 5e-4, AMSGrad (the official code's). Training and QAT's fine-tuning both use it: the loss
    is scaled by 1 / nu = 1000, and Adam's steps, unlike SGD's, do not grow with that scale."""
    return torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=5e-4, amsgrad=True)


def initial_memory_bank(model: CfaModel, images: torch.Tensor, cancel: CancelToken
                        ) -> Generator[Progress, None, torch.Tensor]:
    """(h * w) x C: at each patch position, the mean of the (untrained) descriptor's features over all images.

    This is the paper's target-oriented initialisation. With several categories in one training set, each entry
    averages different products at that position: the reason unified CFA is expected to lose accuracy.
    """
    model.eval()
    total = None
    with torch.no_grad():
        for start in range(0, len(images), EMBED_BATCH):
            cancel.raise_if_cancelled()
            features = model.target_features(images[start : start + EMBED_BATCH].float()).sum(0)
            total = features if total is None else total + features
            yield Progress(min(start + EMBED_BATCH, len(images)), len(images), "averaging descriptor features",
                           stage="memory")
    mean = total / len(images)
    return mean.flatten(1).T.contiguous()


def k_means_centroids(points: torch.Tensor, clusters: int, seed: int) -> torch.Tensor:
    """`clusters` centroids of an M x C matrix (scikit-learn's k-means++ and Lloyd), reproducible for a seed."""
    from sklearn.cluster import KMeans  # only a compressed bank (gamma_c > 1) needs it

    if clusters >= len(points):
        return points.clone()
    fitted = KMeans(n_clusters=clusters, n_init=1, random_state=seed).fit(points.double().numpy())
    return torch.from_numpy(fitted.cluster_centers_).to(points.dtype)
