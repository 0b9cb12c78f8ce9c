"""CIFAR-10 held on the devices: batches taken by index and augmented inside the jitted step.

The whole dataset (150 MB of uint8 for CIFAR-10's training set) is replicated on every device,
so taking a batch is a local gather and no Python runs between steps. The data order is the
epoch's seeded permutation of the whole set, and every random draw of the augmentation is a
function of (seed, epoch, position in the epoch): the same on any number of devices and
processes, and the same when a run is resumed.
"""

import jax
import jax.numpy as jnp
import numpy as np

from resnet_jax import models

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
_AUGMENT_STREAM = 1  # Keys of the augmentation never meet the step's (mixing, dropout).


def has_device_form(augment_config) -> bool:
  """Whether every configured augmentation runs on device (random perspective does not)."""
  return not augment_config.perspective_distortion


def epoch_order(seed: int, epoch: int, num_images: int) -> np.ndarray:
  """The seeded permutation of the training set that epoch `epoch` walks through."""
  return np.random.default_rng([seed, epoch]).permutation(num_images).astype(np.int32)


def normalize(images):
  """Pixels in [0, 255] to float32 standardized with CIFAR-10's mean and std."""
  return (images.astype(jnp.float32) / 255.0 - jnp.array(MEAN)) / jnp.array(STD)


def random_crop(key, image, padding: int):
  """A random window of the image's size from the image zero-padded by `padding` pixels."""
  height, width, channels = image.shape
  padded = jnp.pad(image, ((padding, padding), (padding, padding), (0, 0)))
  top, left = jax.random.randint(key, (2,), 0, 2 * padding + 1)
  return jax.lax.dynamic_slice(padded, (top, left, 0), (height, width, channels))


def random_flip(key, image):
  """The image or its left-right mirror, with equal probability."""
  return jnp.where(jax.random.bernoulli(key), image[:, ::-1], image)


def cutout(key, image, size: int, holes: int = 1):
  """Zeroes `holes` size x size squares, each placed uniformly inside the image (may overlap)."""
  height, width = image.shape[:2]
  top = jax.random.randint(jax.random.fold_in(key, 0), (holes, 1, 1), 0, height - size + 1)
  left = jax.random.randint(jax.random.fold_in(key, 1), (holes, 1, 1), 0, width - size + 1)
  rows = jnp.arange(height)[None, :, None]
  cols = jnp.arange(width)[None, None, :]
  hole = jnp.any((rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size),
                 axis=0)
  return jnp.where(hole[:, :, None], jnp.zeros_like(image), image)


def augment_image(key, image, augment_config):
  """The host pipeline's training augmentation, on device: crop, flip, normalize, cutout."""
  crop_key, flip_key, cutout_key = jax.random.split(key, 3)
  if augment_config.crop_padding:
    image = random_crop(crop_key, image, augment_config.crop_padding)
  if augment_config.flip:
    image = random_flip(flip_key, image)
  image = normalize(image)
  if augment_config.cutout:
    image = cutout(cutout_key, image, augment_config.cutout, augment_config.cutout_holes)
  return image


def train_batch(dataset, indices, *, seed: int, step, steps_per_epoch: int, augment_config):
  """The augmented batch of training step `step` (counted from 0), whose images are
  `dataset['image'][indices]`."""
  epoch, position = jnp.divmod(step, steps_per_epoch)
  positions = position * indices.shape[0] + jnp.arange(indices.shape[0])
  epoch_key = jax.random.fold_in(
      jax.random.fold_in(jax.random.key(seed), _AUGMENT_STREAM), epoch)
  keys = jax.vmap(jax.random.fold_in, (None, 0))(epoch_key, positions)
  images = jax.vmap(augment_image, (0, 0, None))(keys, dataset['image'][indices],
                                                  augment_config)
  return {'image': images, 'label': dataset['label'][indices]}


def train_indices(order: np.ndarray, first: int, count: int, batch_size: int,
                  rows: int) -> np.ndarray:
  """Batches `first` .. `first + count - 1` of an epoch with data order `order`, as `rows`
  rows of dataset indices (rows past `count` are zeros and never trained on)."""
  indices = np.zeros((rows, batch_size), np.int32)
  indices[:count] = order[first * batch_size:(first + count) * batch_size].reshape(count, -1)
  return indices


def eval_indices(num_images: int, batch_size: int):
  """Every image exactly once, in full batches: (indices, mask), padding has mask 0."""
  num_batches = -(-num_images // batch_size)
  positions = np.arange(num_batches * batch_size)
  indices = np.where(positions < num_images, positions, 0).astype(np.int32)
  mask = (positions < num_images).astype(np.float32)
  return indices.reshape(num_batches, batch_size), mask.reshape(num_batches, batch_size)


def synthetic(num_images: int, seed: int = 0):
  """Random uint8 images and labels shaped like CIFAR-10, for benchmarks."""
  rng = np.random.default_rng(seed)
  return (rng.integers(0, 256, (num_images, *models.IMAGE_SHAPE), dtype=np.uint8),
          rng.integers(0, 10, num_images).astype(np.int32))
