"""The one data order of training, which both pipelines walk: epoch e is the seeded permutation
of the training set (`epoch_order`) cut into `steps_per_epoch` global batches (the remainder is
left out), whatever the number of devices and processes."""

import numpy as np


def steps_per_epoch(num_images: int, batch_size: int) -> int:
  """Full global batches in an epoch; the remainder of the permutation is left out."""
  return num_images // batch_size


def epoch_order(seed: int, epoch: int, num_images: int) -> np.ndarray:
  """The seeded permutation of the training set that epoch `epoch` walks through."""
  return np.random.default_rng([seed, epoch]).permutation(num_images).astype(np.int32)


def epoch_batches(seed: int, epoch: int, num_images: int, batch_size: int) -> np.ndarray:
  """Dataset indices of every global batch of epoch `epoch`: (steps_per_epoch, batch_size)."""
  steps = steps_per_epoch(num_images, batch_size)
  return epoch_order(seed, epoch, num_images)[:steps * batch_size].reshape(steps, batch_size)
