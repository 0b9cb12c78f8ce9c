"""Deterministic host batching and the local readers. (Its augmentations are tested beside the
device pipeline's, in test_augmentations.py.)"""

import itertools
import os
import tempfile

import ml_collections
import numpy as np
import pytest
import tensorflow as tf

from configs import default
from resnet_jax import cifar10
from resnet_jax import input_pipeline as ip
from resnet_jax.errors import ConfigError


def augment_config(**kwargs):
  return ml_collections.ConfigDict(default.get_config().augment.to_dict() | kwargs)


def fake_data(n=40):
  rng = np.random.default_rng(0)
  return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), np.arange(n, dtype=np.int32) % 10


def take(iterator, n):
  return list(itertools.islice(iterator, n))


def test_train_batches_are_seeded_full_and_resumable():
  images, labels = fake_data()
  kwargs = dict(batch_size=8, augment_config=augment_config(), seed=3)
  run = take(ip.train_batches(images, labels, **kwargs), 12)
  again = take(ip.train_batches(images, labels, **kwargs), 12)
  resumed = take(ip.train_batches(images, labels, first_step=7, **kwargs), 5)
  other_seed = take(ip.train_batches(images, labels, **kwargs | {'seed': 4}), 1)
  assert all(b['image'].shape == (8, 32, 32, 3) for b in run)
  for a, b in zip(run, again):
    np.testing.assert_array_equal(a['image'], b['image'])
  for a, b in zip(run[7:], resumed):
    np.testing.assert_array_equal(a['image'], b['image'])
    np.testing.assert_array_equal(a['label'], b['label'])
  epoch1 = np.concatenate([b['label'] for b in run[:5]])
  epoch2 = np.concatenate([b['label'] for b in run[5:10]])
  assert sorted(epoch1) == sorted(labels) and not np.array_equal(epoch1, epoch2)
  assert not np.array_equal(run[0]['label'], other_seed[0]['label'])


def data_config(path):
  return ml_collections.ConfigDict({'dir': str(path)})


def test_python_batches_reader_on_the_real_subset(real_subset):
  images, labels = ip.load_split(data_config(real_subset), 'test')
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
  images, labels = ip.load_split(data_config(tmp_path / 'data'), 'train')
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
  monkeypatch.setattr(ip, '_to_numpy', lambda data, decode=ip._to_numpy: (
      decodes.append(1), decode(data))[1])
  first, first_labels = ip.load_split(data_config(tmp_path / 'data'), 'train')
  again, again_labels = ip.load_split(data_config(tmp_path / 'data'), 'train')
  assert len(decodes) == 1
  np.testing.assert_array_equal(first, again)
  np.testing.assert_array_equal(first_labels, again_labels)
  assert len(os.listdir(tmp_path / 'cache' / 'resnet_jax' / 'decoded')) == 1

  changed = tmp_path / 'data' / 'train' / 'cat' / '0.png'
  tf.io.write_file(str(changed), tf.io.encode_png(np.full((32, 32, 3), 7, np.uint8)))
  os.utime(changed, ns=(1, 1))  # A new modification time even on a coarse clock.
  images, labels = ip.load_split(data_config(tmp_path / 'data'), 'train')
  assert len(decodes) == 2
  assert np.any(np.all(images == 7, axis=(1, 2, 3))[labels == 3])
  assert len(os.listdir(tmp_path / 'cache' / 'resnet_jax' / 'decoded')) == 1  # The old one went.
  ip.load_split(data_config(tmp_path / 'data'), 'test')
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
    ip.load_split(data_config(make(tmp_path)), 'train')
