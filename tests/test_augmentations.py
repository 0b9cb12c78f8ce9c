"""Defining properties of the added augmentations: cutout holes, random perspective, mixup,
cutmix, and the validation split."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf

from resnet_jax import input_pipeline as ip
from resnet_jax import mixing
from resnet_jax.errors import ConfigError

SEEDS = [tf.constant([11, i], tf.int64) for i in range(20)]


def covered_by_zero_squares(zero, size):
  """Every zero pixel lies in some all-zero size x size window."""
  height, width = zero.shape
  covered = np.zeros_like(zero)
  for top in range(height - size + 1):
    for left in range(width - size + 1):
      if zero[top:top + size, left:left + size].all():
        covered[top:top + size, left:left + size] = True
  return np.array_equal(covered, zero)


def test_cutout_zeroes_n_squares():
  image = tf.ones((32, 32, 3))
  counts = set()
  for seed in SEEDS:
    zero = ip.cutout(image, seed, 5, holes=3).numpy()[:, :, 0] == 0
    assert 25 <= zero.sum() <= 75 and covered_by_zero_squares(zero, 5)
    counts.add(int(zero.sum()))
  assert 75 in counts  # Three separate holes, whenever they do not overlap.


def test_perspective_moves_the_corners_to_the_endpoints():
  image = tf.random.uniform((32, 32, 3), 0, 256, tf.int32, seed=1)
  start = [[0, 0], [31, 0], [31, 31], [0, 31]]
  end = [[3, 2], [29, 1], [30, 27], [5, 30]]
  out = ip.perspective(image, start, end).numpy()
  for (u, v), (x, y) in zip(start, end):
    np.testing.assert_allclose(out[y, x], image.numpy()[v, u], atol=1e-3)
  shifted = ip.perspective(image, start, [[x + 2, y] for x, y in start]).numpy()
  np.testing.assert_allclose(shifted[:, 2:], image.numpy()[:, :-2], atol=1e-3)
  assert np.all(shifted[:, :2] == 0)  # Zero fill where nothing maps.


def test_random_perspective_keeps_shape_and_value_range():
  image = tf.random.uniform((32, 32, 3), 0, 256, tf.int32, seed=2)
  image = tf.cast(image, tf.uint8)
  changed = 0
  for seed in SEEDS:
    out = ip.random_perspective(image, seed, 0.5, 0.5).numpy()
    assert out.shape == (32, 32, 3) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 255
    changed += not np.array_equal(out, image.numpy())
  assert 3 <= changed <= 17  # Applied about half the time.
  for seed in SEEDS[:3]:
    np.testing.assert_array_equal(ip.random_perspective(image, seed, 0.5, 0.0), image)
    np.testing.assert_allclose(ip.random_perspective(image, seed, 0.0, 1.0), image, atol=1e-3)
    warped = ip.random_perspective(image, seed, 1.0, 1.0).numpy()
    assert warped[0, 0].max() == 0 or warped[-1, -1].max() == 0 or warped[0, -1].max() == 0


def batch(n=6, size=8):
  """Images whose pixels say which example they came from, and one-hot targets."""
  images = jnp.arange(1, n + 1, dtype=jnp.float32)[:, None, None, None]
  images = images * jnp.ones((n, size, size, 3))
  return images, jax.nn.one_hot(jnp.arange(n) % 4, 4)


def test_mixup_mixes_images_and_labels_with_the_drawn_weight():
  images, targets = batch()
  weights = []
  mixup = jax.jit(mixing.mixup, static_argnums=2)
  for i in range(20):
    mixed, perm, weight = mixup(jax.random.key(i), images, 0.4)
    assert sorted(perm.tolist()) == list(range(6)) and 0 <= weight <= 1
    np.testing.assert_allclose(mixed, weight * images + (1 - weight) * images[perm], rtol=1e-6)
    mixed_targets = mixing.mix_targets(targets, perm, weight)
    np.testing.assert_allclose(mixed_targets.sum(-1), 1, rtol=1e-6)
    np.testing.assert_allclose(mixed_targets, weight * targets + (1 - weight) * targets[perm])
    weights.append(float(weight))
  assert len(set(weights)) == 20 and min(weights) < 0.2 and max(weights) > 0.8  # Beta(.4, .4)


def test_cutmix_label_weight_is_the_pasted_area():
  images, targets = batch(size=16)
  areas = []
  cutmix = jax.jit(mixing.cutmix, static_argnums=2)
  for i in range(20):
    mixed, perm, weight = cutmix(jax.random.key(i), images, 1.0)
    for k in np.nonzero(np.asarray(perm) != np.arange(6))[0]:
      pasted = np.asarray(mixed[k, :, :, 0] == images[perm[k], 0, 0, 0])
      assert np.all(pasted | np.asarray(mixed[k, :, :, 0] == images[k, 0, 0, 0]))
      rows, cols = np.nonzero(pasted)
      if len(rows):  # One rectangle.
        assert pasted.sum() == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)
      assert pasted.mean() == pytest.approx(1 - float(weight))
    mixed_targets = mixing.mix_targets(targets, perm, weight)
    np.testing.assert_allclose(mixed_targets.sum(-1), 1, rtol=1e-6)
    areas.append(1 - float(weight))
  assert len(set(areas)) > 5


def test_mix_picks_mixup_or_cutmix_and_nothing_when_off():
  images, _ = batch()
  kinds = set()
  mix = jax.jit(functools.partial(mixing.mix, mixup_alpha=1.0, cutmix_alpha=1.0))
  for i in range(20):
    mixed, _, _ = mix(jax.random.key(i), images)
    blended = np.any((np.asarray(mixed) % 1) != 0)
    kinds.add('mixup' if blended else 'cutmix')
  assert kinds == {'mixup', 'cutmix'}
  same, perm, weight = mixing.mix(jax.random.key(0), images)
  assert same is images and weight == 1


def test_validation_split_is_disjoint_seeded_and_from_train():
  images = np.arange(50)[:, None, None, None] * np.ones((50, 2, 2, 3), np.uint8)
  labels = np.arange(50) % 10
  (train_x, train_y), (val_x, val_y) = ip.split_validation(images, labels, 0.2, seed=3)
  assert len(val_x) == 10 and len(train_x) == 40
  ids = np.concatenate([train_x[:, 0, 0, 0], val_x[:, 0, 0, 0]])
  assert sorted(ids.tolist()) == list(range(50))
  np.testing.assert_array_equal(val_y, val_x[:, 0, 0, 0] % 10)
  again = ip.split_validation(images, labels, 0.2, seed=3)[1][0]
  other = ip.split_validation(images, labels, 0.2, seed=4)[1][0]
  np.testing.assert_array_equal(again, val_x)
  assert not np.array_equal(other, val_x)
  with pytest.raises(ConfigError, match='val_fraction'):
    ip.split_validation(images[:3], labels[:3], 0.1, seed=0)
