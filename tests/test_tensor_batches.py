"""The grader's in-memory batches: every sample once per epoch, augmentation that keeps labels, determinism."""
from __future__ import annotations

import torch

from autograder.worker.tensor_batches import TensorBatches


def numbered_images(n: int = 10, size: int = 6) -> torch.Tensor:
    """Image i holds the value i + 1 everywhere, so a crop or flip can be traced back to its source."""
    return (torch.arange(1, n + 1, dtype=torch.uint8)[:, None, None, None].expand(n, 3, size, size)).clone()


def batches(**kwargs) -> TensorBatches:
    images = numbered_images()
    return TensorBatches(images, torch.arange(10) % 10, 4, mean=(0, 0, 0), std=(1 / 255,) * 3, **kwargs)


def test_every_sample_once_per_epoch_with_a_ragged_last_batch() -> None:
    loader = batches(shuffle=True)
    sizes, labels = [], []
    for x, y in loader:
        sizes.append(len(y))
        labels += y.tolist()
        assert x.dtype == torch.float32 and x.shape[1:] == (3, 6, 6)
    assert len(loader) == 3 and sizes == [4, 4, 2] and sorted(labels) == list(range(10))


def test_crops_shift_each_image_and_keep_its_label() -> None:
    loader = batches(crop_padding=2, flip=True)
    for x, y in loader:
        for image, label in zip(x, y):
            values = set(image.unique().tolist()) - {0.0}
            assert values == {float(label + 1)}, "a crop must hold only its own image's pixels (or zero padding)"
    shifted = any((x == 0).any() for x, _ in loader)
    assert shifted, "with padding 2, some images should be shifted"


def test_flip_mirrors_left_and_right() -> None:
    image = torch.zeros(1, 1, 2, 3, dtype=torch.uint8)
    image[..., 0] = 7
    loader = TensorBatches(image.expand(64, 1, 2, 3).clone(), torch.zeros(64), 64, mean=(0,), std=(1 / 255,), flip=True)
    x, _ = next(iter(loader))
    left, right = (x[:, 0, 0, 0] == 7).sum().item(), (x[:, 0, 0, 2] == 7).sum().item()
    assert left + right == 64 and 10 < left < 54


def test_same_seed_same_epochs_and_epochs_differ() -> None:
    first = [x for x, _ in batches(crop_padding=2, flip=True, seed=3)]
    again = [x for x, _ in batches(crop_padding=2, flip=True, seed=3)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    loader = batches(crop_padding=2, flip=True, seed=3)
    one, two = [x for x, _ in loader], [x for x, _ in loader]
    assert not all(torch.equal(a, b) for a, b in zip(one, two))


def test_normalisation_uses_the_channel_statistics() -> None:
    images = torch.full((2, 3, 2, 2), 255, dtype=torch.uint8)
    x, _ = next(iter(TensorBatches(images, torch.zeros(2), 2, mean=(0.5, 0.5, 0.5), std=(0.25, 0.5, 1.0), shuffle=False)))
    assert torch.allclose(x[0, :, 0, 0], torch.tensor([2.0, 1.0, 0.5]))
