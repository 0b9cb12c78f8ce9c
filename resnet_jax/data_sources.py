"""CIFAR-10 from tfds or a local copy, read whole into memory as uint8 images and int labels.

A local copy in the official python format needs no TensorFlow; tfds and image folders import
it when they are read (`tensorflow_runtime`).
"""

import contextlib
import os
import pickle
import shutil
import socket
import tempfile
import urllib.parse
from unittest import mock

import numpy as np

from resnet_jax import caches, cifar10, tensorflow_runtime
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


def _tfds():
  tensorflow_runtime.load()  # Quiet and off the GPUs before tfds starts it.
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  return tfds


def _load_tfds(split):
  tfds = _tfds()
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
        'could not download CIFAR-10 with tfds into %s (%s: %s). Without internet, point '
        'config.data.dir at a local copy: %s', root, type(e).__name__,
        str(e).splitlines()[0][:200] if str(e) else host, _LAYOUTS,
        arguments=('config.data.dir',)) from None


def _to_numpy(data):
  """All (image, label) pairs of a finite tf.data dataset as two arrays (its size need not be
  known)."""
  chunks = list(_tfds().as_numpy(data.batch(4096)))
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
      builder = _tfds().folder_dataset.ImageFolder(root)
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
