"""CIFAR-10 from tfds or a local copy, into seeded, augmented, normalized batches.

Every source is read into memory whole, as uint8 images and int labels. The host pipeline feeds
them through tf.data in the data order of `pipelines`; its augmentation draws are functions of
(seed, epoch, position), so a run restarted at a given step sees the same batches.
"""

import contextlib
import os
import pickle
import shutil
import socket
import tempfile
import urllib.parse
from typing import Iterator
from unittest import mock

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from resnet_jax import caches, cifar10, pipelines
from resnet_jax.errors import ConfigError

_PYTHON_FILES = {'train': [f'data_batch_{i}' for i in range(1, 6)], 'test': ['test_batch']}
_LAYOUTS = ('an official cifar-10-batches-py folder (data_batch_1..5, test_batch) or an image '
            'folder with train/<class>/* and test/<class>/*')


def load_split(data_config, split: str, *, fraction: float = 1.0):
  """The first `fraction` of `split` ('train' or 'test'), whole: every process holds it all.

  Returns (uint8 NHWC images, int32 labels). Every source's splits come (deterministically)
  shuffled, so a leading fraction is a fixed random subset.
  """
  if data_config.dir:
    images, labels = _load_local(os.path.expanduser(data_config.dir), split)
    keep = round(len(images) * fraction)
    images, labels = images[:keep], labels[:keep]
  else:
    images, labels = _load_tfds(split if fraction == 1 else f'{split}[:{100 * fraction:g}%]')
  if len(images) == 0:
    part = f'{split} split' if fraction == 1 else f'first {fraction:g} of the {split} split'
    raise ConfigError(f'the {part} of {data_config.dir or "tfds cifar10"} has no images')
  return images, labels.astype(np.int32)


@contextlib.contextmanager
def _scratch_temp_dir():
  """tfds makes a folder in the temp dir for its metadata whenever it builds the builder of a
  dataset it has not prepared (cifar10 before its download, every ImageFolder) and never removes
  it; made in here, such folders go."""
  with tempfile.TemporaryDirectory() as scratch, mock.patch.object(tempfile, 'tempdir', scratch):
    yield


def _load_tfds(split):
  with _scratch_temp_dir():
    builder = tfds.builder('cifar10')
  try:
    data = builder.as_dataset(split=split, as_supervised=True)
  except AssertionError:  # tfds' "could not find data": not downloaded and prepared yet.
    _download(builder)
    data = builder.as_dataset(split=split, as_supervised=True)
  return _to_numpy(data)


def _download(builder) -> None:
  """Downloads and prepares CIFAR-10 in tfds' data dir, or fails in seconds, leaving nothing.

  tfds' own downloader retries an unreachable host for minutes; a connection attempt first
  tells an offline machine at once. A failed attempt removes the folders it created.
  """
  host = urllib.parse.urlparse(builder.info.homepage).hostname
  root = builder.data_dir_root
  created = [p for p in (root, root / 'downloads', root / builder.name) if not p.exists()]
  try:
    socket.create_connection((host, 443), timeout=10).close()
    builder.download_and_prepare()
  except Exception as e:  # Offline machines fail in many ways, inside tfds and before it.
    for path in created:
      shutil.rmtree(path, ignore_errors=True)
    raise ConfigError(
        f'could not download CIFAR-10 with tfds into {root} ({type(e).__name__}: '
        f'{str(e).splitlines()[0][:200] if str(e) else host}). Without internet, point '
        f'--config.data.dir at a local copy: {_LAYOUTS}') from None


def _to_numpy(data: tf.data.Dataset):
  """All (image, label) pairs of a finite dataset as two arrays (its size need not be known)."""
  chunks = list(tfds.as_numpy(data.batch(4096)))
  return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


def _load_local(root, split):
  if not os.path.isdir(root):
    raise ConfigError(f'config.data.dir={root!r} is not a folder; expected {_LAYOUTS}')
  if os.path.exists(os.path.join(root, 'test_batch')):
    return _load_python_batches(root, split)
  if os.path.isdir(os.path.join(root, 'train')) and os.path.isdir(os.path.join(root, 'test')):
    return _load_image_folder(root, split)
  raise ConfigError(f'config.data.dir={root!r} holds neither layout; expected {_LAYOUTS}')


def _load_python_batches(root, split):
  images, labels = [], []
  for name in _PYTHON_FILES[split]:
    path = os.path.join(root, name)
    if not os.path.exists(path):
      raise ConfigError(f'{path} is missing; a cifar-10-batches-py folder holds '
                        f'{", ".join(sum(_PYTHON_FILES.values(), []))}')
    try:
      with open(path, 'rb') as f:
        batch = pickle.load(f, encoding='bytes')
      data = np.asarray(batch[b'data'], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
      images.append(data)
      labels.append(np.asarray(batch[b'labels'], np.int64))
    except Exception as e:
      raise ConfigError(f'{path} is not a CIFAR-10 python batch ({type(e).__name__}: {e})'
                        ) from None
  return _checked(np.concatenate(images), np.concatenate(labels), root)


def _load_image_folder(root, split):
  classes = sorted(os.listdir(os.path.join(root, split)))
  if tuple(classes) != cifar10.CLASS_NAMES:
    raise ConfigError(f'{os.path.join(root, split)} has class folders {classes}; expected the '
                      f'ten CIFAR-10 classes {list(cifar10.CLASS_NAMES)}')

  def decode():
    with _scratch_temp_dir():
      builder = tfds.folder_dataset.ImageFolder(root)
    try:
      return _to_numpy(builder.as_dataset(split=split, as_supervised=True, shuffle_files=False))
    except Exception as e:
      raise ConfigError(f'could not read the images under {os.path.join(root, split)} '
                        f'({type(e).__name__}: {str(e).splitlines()[0][:200]}); every image '
                        'must be a 32x32 RGB picture') from None

  images, labels = caches.decoded(os.path.join(root, split), decode)
  return _checked(images, labels, root)


def _checked(images, labels, root):
  if images.shape[1:] != cifar10.IMAGE_SHAPE or len(images) != len(labels):
    raise ConfigError(f'{root}: images have shape {images.shape[1:]}; expected 32x32x3')
  if labels.size and (labels.min() < 0 or labels.max() >= cifar10.NUM_CLASSES):
    raise ConfigError(f'{root}: labels range over [{labels.min()}, {labels.max()}]; expected '
                      f'0..{cifar10.NUM_CLASSES - 1}')
  return images, labels


def normalize(image):
  """uint8 or float pixels in [0, 255] to float32 standardized with CIFAR-10's mean and std."""
  return (tf.cast(image, tf.float32) / 255.0 - cifar10.MEAN) / cifar10.STD


def random_crop(image, seed, padding: int, fill: str = 'zero'):
  """A random 32x32 window of the image padded by `padding` pixels on each side (zeros, or the
  image's reflection)."""
  padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]],
                  mode='CONSTANT' if fill == 'zero' else 'REFLECT')
  return tf.image.stateless_random_crop(padded, tf.shape(image), seed=seed)


def random_flip(image, seed):
  """The image or its left-right mirror, with equal probability."""
  return tf.image.stateless_random_flip_left_right(image, seed=seed)


def cutout(image, seed, size: int, holes: int = 1):
  """Zeroes `holes` size x size squares, each placed uniformly inside the image (may overlap)."""
  height, width = image.shape[0], image.shape[1]
  positions = tf.random.stateless_uniform([holes, 2], seed) * [height - size + 1, width - size + 1]
  positions = tf.cast(positions, tf.int32)
  top, left = positions[:, 0, None, None], positions[:, 1, None, None]
  rows = tf.range(height)[None, :, None]
  cols = tf.range(width)[None, None, :]
  hole = tf.reduce_any((rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size),
                       axis=0)
  return tf.where(hole[:, :, None], tf.zeros_like(image), image)


def perspective(image, startpoints, endpoints):
  """Warps the image so that the 4 `startpoints` land on the `endpoints` ((x, y) pixels).

  As torchvision's `perspective`: bilinear sampling, zero fill outside the source image.
  """
  # The map from an output pixel to where it samples the input: solve for the 8 coefficients
  # of u = (a x + b y + c) / (g x + h y + 1), v = (d x + e y + f) / (g x + h y + 1).
  end = tf.cast(endpoints, tf.float64)
  start = tf.cast(startpoints, tf.float64)
  x, y, u, v = end[:, 0], end[:, 1], start[:, 0], start[:, 1]
  one, zero = tf.ones_like(x), tf.zeros_like(x)
  rows = tf.concat([tf.stack([x, y, one, zero, zero, zero, -u * x, -u * y], 1),
                    tf.stack([zero, zero, zero, x, y, one, -v * x, -v * y], 1)], 0)
  coefficients = tf.linalg.solve(rows, tf.concat([u, v], 0)[:, None])[:, 0]
  return tf.raw_ops.ImageProjectiveTransformV3(
      images=tf.cast(image, tf.float32)[None], transforms=tf.cast(coefficients, tf.float32)[None],
      output_shape=tf.shape(image)[:2], fill_value=0.0, interpolation='BILINEAR',
      fill_mode='CONSTANT')[0]


def random_perspective(image, seed, distortion: float, probability: float):
  """torchvision's RandomPerspective: with `probability`, moves each corner inward by up to
  `distortion` x half the side (whole pixels) and warps the image there; float output."""
  height, width = image.shape[0], image.shape[1]
  apply_seed, x_seed, y_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
  max_x, max_y = int(distortion * (width // 2)), int(distortion * (height // 2))
  shift_x = tf.random.stateless_uniform([4], x_seed, 0, max_x + 1, tf.int32)
  shift_y = tf.random.stateless_uniform([4], y_seed, 0, max_y + 1, tf.int32)
  corners = tf.constant([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]])
  inward = tf.constant([[1, 1], [-1, 1], [-1, -1], [1, -1]])
  endpoints = corners + inward * tf.stack([shift_x, shift_y], 1)
  return tf.cond(tf.random.stateless_uniform([], apply_seed) < probability,
                 lambda: perspective(image, corners, endpoints),
                 lambda: tf.cast(image, tf.float32))


def augment(image, seed, augment_config):
  """Training augmentation: random perspective (as many times as asked), crop, flip, normalize,
  then cutout (holes are zero = the mean)."""
  crop_seed, flip_seed, cutout_seed, perspective_seed = tf.unstack(
      tf.random.experimental.stateless_split(seed, 4))
  if augment_config.perspective_distortion:
    for i in range(augment_config.perspective_repeats):
      image = random_perspective(
          image, tf.random.experimental.stateless_fold_in(perspective_seed, i),
          augment_config.perspective_distortion, augment_config.perspective_prob)
  if augment_config.crop_padding:
    image = random_crop(image, crop_seed, augment_config.crop_padding, augment_config.crop_fill)
  if augment_config.flip:
    image = random_flip(image, flip_seed)
  image = normalize(image)
  if augment_config.cutout:
    image = cutout(image, cutout_seed, augment_config.cutout, augment_config.cutout_holes)
  return image


def split_validation(images, labels, fraction: float, seed: int):
  """Holds out a seeded random `fraction` of the training images: (train, validation) pairs.

  Validation comes from the training set only, so the test set stays unseen until the end.
  """
  num_val = round(len(images) * fraction)
  if not 0 < num_val < len(images):
    raise ConfigError(f'config.data.val_fraction={fraction} of {len(images)} training images '
                      f'leaves {num_val} for validation and {len(images) - num_val} for training; '
                      'both must be at least one')
  order = np.random.default_rng([seed, len(images)]).permutation(len(images))
  val, train = np.sort(order[:num_val]), np.sort(order[num_val:])
  return (images[train], labels[train]), (images[val], labels[val])


def train_batches(images, labels, *, batch_size: int, augment_config, seed: int,
                  process_index: int = 0, process_count: int = 1,
                  first_step: int = 0) -> Iterator[dict]:
  """This process's rows of every global batch of `batch_size` augmented training images, from
  step `first_step` on, endlessly.

  The batches are `pipelines.epoch_batches`, the device pipeline's; process `process_index` of
  `process_count` takes the same slice of each, and each image's augmentation draw is a function
  of (seed, epoch, its position in the epoch), so the run does not depend on the process count.
  """
  local = batch_size // process_count
  rows = slice(process_index * local, (process_index + 1) * local)
  images_t, labels_t = tf.constant(images), tf.constant(labels)
  steps_per_epoch = pipelines.steps_per_epoch(len(images), batch_size)
  positions = np.arange(steps_per_epoch * batch_size).reshape(steps_per_epoch, batch_size)
  epoch, skip = divmod(first_step, steps_per_epoch)
  while True:
    indices = pipelines.epoch_batches(seed, epoch, len(images), batch_size)
    epoch_seed = tf.random.experimental.stateless_fold_in([seed, 0], epoch)

    def example(position, index, epoch_seed=epoch_seed):
      example_seed = tf.random.experimental.stateless_fold_in(epoch_seed, position)
      return {'image': augment(tf.gather(images_t, index), example_seed, augment_config),
              'label': tf.gather(labels_t, index)}

    ds = tf.data.Dataset.from_tensor_slices((positions[skip:, rows].ravel(),
                                             indices[skip:, rows].ravel()))
    ds = ds.map(example, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(local, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    yield from ds.as_numpy_iterator()
    epoch, skip = epoch + 1, 0
