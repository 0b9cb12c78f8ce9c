"""The local readers: python batches, image folders (decoded once), and bad copies refused."""

import os
import tempfile

import ml_collections
import numpy as np
import pytest
import tensorflow as tf

from resnet_jax import cifar10
from resnet_jax import data_sources
from resnet_jax.errors import ConfigError


def data_config(path):
  return ml_collections.ConfigDict({'dir': str(path)})


def test_python_batches_reader_on_the_real_subset(real_subset):
  images, labels = data_sources.load_split(data_config(real_subset), 'test')
  assert images.shape == (1017, 32, 32, 3) and images.dtype == np.uint8
  assert np.bincount(labels).tolist() == [105, 93, 100, 104, 92, 87, 114, 102, 110, 110]


def write_image_folder(root, classes=cifar10.CLASS_NAMES, per_class=2, size=32):
  rng = np.random.default_rng(1)
  for split in ('train', 'test'):
    for name in classes:
      (root / split / name).mkdir(parents=True)
      for i in range(per_class):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        tf.io.write_file(str(root / split / name / f'{i}.png'), tf.io.encode_png(pixels))


def test_image_folder_reader(tmp_path, monkeypatch):
  write_image_folder(tmp_path / 'data')
  (tmp_path / 'temp').mkdir()
  monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path / 'temp'))
  images, labels = data_sources.load_split(data_config(tmp_path / 'data'), 'train')
  assert list((tmp_path / 'temp').iterdir()) == []  # tfds' metadata folder is gone.
  assert images.shape == (20, 32, 32, 3)
  assert sorted(labels.tolist()) == sorted(list(range(10)) * 2)
  some_file = tmp_path / 'data' / 'train' / 'cat' / '0.png'
  decoded = tf.io.decode_png(tf.io.read_file(str(some_file))).numpy()
  assert labels[[np.array_equal(x, decoded) for x in images].index(True)] == 3


def test_image_folder_is_decoded_once_until_a_file_changes(tmp_path, monkeypatch):
  monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
  write_image_folder(tmp_path / 'data')
  decodes = []
  monkeypatch.setattr(data_sources, '_to_numpy', lambda data, decode=data_sources._to_numpy: (
      decodes.append(1), decode(data))[1])
  first, first_labels = data_sources.load_split(data_config(tmp_path / 'data'), 'train')
  again, again_labels = data_sources.load_split(data_config(tmp_path / 'data'), 'train')
  assert len(decodes) == 1
  np.testing.assert_array_equal(first, again)
  np.testing.assert_array_equal(first_labels, again_labels)
  assert len(os.listdir(tmp_path / 'cache' / 'resnet_jax' / 'decoded')) == 1

  changed = tmp_path / 'data' / 'train' / 'cat' / '0.png'
  tf.io.write_file(str(changed), tf.io.encode_png(np.full((32, 32, 3), 7, np.uint8)))
  os.utime(changed, ns=(1, 1))  # A new modification time even on a coarse clock.
  images, labels = data_sources.load_split(data_config(tmp_path / 'data'), 'train')
  assert len(decodes) == 2
  assert np.any(np.all(images == 7, axis=(1, 2, 3))[labels == 3])
  assert len(os.listdir(tmp_path / 'cache' / 'resnet_jax' / 'decoded')) == 1  # The old one went.
  data_sources.load_split(data_config(tmp_path / 'data'), 'test')
  assert len(decodes) == 3


@pytest.mark.parametrize('make,expected', [
    (lambda root: root / 'missing', 'is not a folder'),
    (lambda root: root, 'holds neither layout'),
    (lambda root: (write_image_folder(root, classes=('cats', 'dogs'), per_class=1), root)[1],
     "expected the ten CIFAR-10 classes"),
    (lambda root: (write_image_folder(root, per_class=1, size=16), root)[1], 'expected 32x32x3'),
])
def test_bad_local_copies_are_refused(tmp_path, make, expected):
  with pytest.raises(ConfigError, match=expected):
    data_sources.load_split(data_config(make(tmp_path)), 'train')


def test_validation_split_is_disjoint_seeded_and_from_train():
  images = np.arange(50)[:, None, None, None] * np.ones((50, 2, 2, 3), np.uint8)
  labels = np.arange(50) % 10
  (train_x, train_y), (val_x, val_y) = data_sources.split_validation(images, labels, 0.2, seed=3)
  assert len(val_x) == 10 and len(train_x) == 40
  ids = np.concatenate([train_x[:, 0, 0, 0], val_x[:, 0, 0, 0]])
  assert sorted(ids.tolist()) == list(range(50))
  np.testing.assert_array_equal(val_y, val_x[:, 0, 0, 0] % 10)
  again = data_sources.split_validation(images, labels, 0.2, seed=3)[1][0]
  other = data_sources.split_validation(images, labels, 0.2, seed=4)[1][0]
  np.testing.assert_array_equal(again, val_x)
  assert not np.array_equal(other, val_x)
  with pytest.raises(ConfigError, match='val_fraction'):
    data_sources.split_validation(images[:3], labels[:3], 0.1, seed=0)
