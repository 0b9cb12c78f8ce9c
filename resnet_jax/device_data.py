"""CIFAR-10 held on the devices: batches taken by index and augmented inside the jitted step.

The whole dataset (150 MB of uint8 for CIFAR-10's training set) is replicated on every device,
so taking a batch is a local gather and no Python runs between steps. The batches' indices come
from `pipelines` (the data order both pipelines share); every random draw of the augmentation is
a function of (seed, epoch, position in the epoch): the same on any number of devices and
processes, and the same when a run is resumed.
"""

import jax
import jax.numpy as jnp
import numpy as np

from resnet_jax import cifar10

# Separate key streams: the augmentation's and the alternating flip's never meet the step's
# (mixing, dropout).
_AUGMENT_STREAM, _FLIP_STREAM = 1, 2


def has_device_form(augment_config) -> bool:
  """Whether every configured augmentation runs on device (random perspective does not)."""
  return not augment_config.perspective_distortion


def random_crop(key, image, padding: int, fill: str = 'zero'):
  """A random window of the image's size from the image padded by `padding` pixels (zeros, or
  its reflection): a translation by up to `padding` pixels in each direction."""
  height, width, channels = image.shape
  padded = jnp.pad(image, ((padding, padding), (padding, padding), (0, 0)),
                   mode='constant' if fill == 'zero' else 'reflect')
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


def augment_image(key, image, augment_config, mirror=None):
  """The host pipeline's training augmentation, on device: crop, flip, normalize, cutout.

  `mirror` (a bool) replaces the random flip, for the alternating flip.
  """
  crop_key, flip_key, cutout_key = jax.random.split(key, 3)
  if augment_config.crop_padding:
    image = random_crop(crop_key, image, augment_config.crop_padding, augment_config.crop_fill)
  if augment_config.flip:
    image = (random_flip(flip_key, image) if mirror is None
             else jnp.where(mirror, image[:, ::-1], image))
  image = cifar10.normalize(image)
  if augment_config.cutout:
    image = cutout(cutout_key, image, augment_config.cutout, augment_config.cutout_holes)
  return image


def alternating_mirror(seed: int, indices, epoch):
  """airbench's alternating flip: each image is mirrored in every other epoch, starting from a
  seeded random choice per image, so that every two epochs see both of its sides once."""
  first = jax.vmap(jax.random.fold_in, (None, 0))(
      jax.random.fold_in(jax.random.key(seed), _FLIP_STREAM), indices)
  return jax.vmap(jax.random.bernoulli)(first) ^ (epoch % 2 == 1)


def train_batch(dataset, indices, *, seed: int, step, steps_per_epoch: int, augment_config):
  """The augmented batch of training step `step` (counted from 0), whose images are
  `dataset['image'][indices]`."""
  epoch, position = jnp.divmod(step, steps_per_epoch)
  positions = position * indices.shape[0] + jnp.arange(indices.shape[0])
  epoch_key = jax.random.fold_in(
      jax.random.fold_in(jax.random.key(seed), _AUGMENT_STREAM), epoch)
  keys = jax.vmap(jax.random.fold_in, (None, 0))(epoch_key, positions)
  mirror = (alternating_mirror(seed, indices, epoch) if augment_config.alternating_flip
            else None)
  images = jax.vmap(augment_image, (0, 0, None, 0 if mirror is not None else None))(
      keys, dataset['image'][indices], augment_config, mirror)
  return {'image': images, 'label': dataset['label'][indices]}


def tta_views(images, *, flip: bool, shift: int):
  """Test-time views of a batch: each image, its mirror if `flip`, and, if `shift`, each of
  those translated by `shift` pixels up-left and down-right (reflected borders)."""
  views = [images] + ([images[:, :, ::-1]] if flip else [])
  if shift:
    height, width = images.shape[1:3]
    shifted = []
    for view in views:
      padded = jnp.pad(view, ((0, 0), (shift, shift), (shift, shift), (0, 0)), mode='reflect')
      shifted += [padded[:, :height, :width], padded[:, 2 * shift:, 2 * shift:]]
    views += shifted
  return views


def num_tta_views(*, flip: bool, shift: int) -> int:
  """How many views `tta_views` makes of each image."""
  return (2 if flip else 1) * (3 if shift else 1)


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
  return (rng.integers(0, 256, (num_images, *cifar10.IMAGE_SHAPE), dtype=np.uint8),
          rng.integers(0, 10, num_images).astype(np.int32))
