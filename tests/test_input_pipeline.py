"""Deterministic host batching. (Its augmentations are tested beside the device pipeline's, in
test_augmentations.py.)"""

import itertools

import ml_collections
import numpy as np

from resnet_jax import defaults, input_pipeline as ip


def augment_config(**kwargs):
  return ml_collections.ConfigDict(defaults.get_config().augment.to_dict() | kwargs)


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
