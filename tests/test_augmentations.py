"""Defining properties of the augmentations. Crop (zero or reflected fill), flip, cutout and the
whole per-image augmentation run against both pipelines: the device one (jax, device_data.py) and
the host one (tf.data, input_pipeline.py) must follow the same rules. Then random perspective
(host only), mixup, cutmix, and the validation split."""

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import tensorflow as tf

from resnet_jax import cifar10, defaults, device_data, mixing
from resnet_jax import input_pipeline as ip
from tests.conftest import covered_by_zero_squares

SEEDS = [tf.constant([11, i], tf.int64) for i in range(20)]


class DevicePipeline:
  """device_data's augmentations, drawn with jax.random.key(draw); numpy out."""

  @staticmethod
  def crop(image, draw, padding, fill='zero'):
    return np.asarray(device_data.random_crop(jax.random.key(draw), image, padding, fill=fill))

  @staticmethod
  def flip(image, draw):
    return np.asarray(device_data.random_flip(jax.random.key(draw), image))

  @staticmethod
  def cutout(image, draw, size, holes=1):
    return np.asarray(device_data.cutout(jax.random.key(draw), image, size, holes))

  @staticmethod
  def augment(image, draw, augment_config):
    return np.asarray(device_data.augment_image(jax.random.key(draw), image, augment_config))


class HostPipeline:
  """input_pipeline's (tf.data) augmentations, drawn with the stateless seed [7, draw]."""

  @staticmethod
  def seed(draw):
    return tf.constant([7, draw], tf.int64)

  @classmethod
  def crop(cls, image, draw, padding, fill='zero'):
    return ip.random_crop(tf.constant(image), cls.seed(draw), padding, fill=fill).numpy()

  @classmethod
  def flip(cls, image, draw):
    return ip.random_flip(tf.constant(image), cls.seed(draw)).numpy()

  @classmethod
  def cutout(cls, image, draw, size, holes=1):
    return ip.cutout(tf.constant(image), cls.seed(draw), size, holes=holes).numpy()

  @classmethod
  def augment(cls, image, draw, augment_config):
    return ip.augment(tf.constant(image), cls.seed(draw), augment_config).numpy()


@pytest.fixture(params=['device', 'host'])
def pipeline(request):
  return {'device': DevicePipeline, 'host': HostPipeline}[request.param]


def augment_config(**kwargs):
  return ml_collections.ConfigDict(defaults.get_config().augment.to_dict() | kwargs)


def window_offset(crop, padded):
  """The one (top, left) at which `crop` is a window of `padded` (fails if none or several)."""
  height, width = crop.shape[:2]
  matches = [(dy, dx) for dy in range(padded.shape[0] - height + 1)
             for dx in range(padded.shape[1] - width + 1)
             if np.array_equal(crop, padded[dy:dy + height, dx:dx + width])]
  assert len(matches) == 1, matches
  return matches[0]


def test_random_crop_is_a_shifted_window_with_zero_fill(pipeline):
  image = np.random.default_rng(0).integers(1, 256, (32, 32, 3)).astype(np.uint8)
  padded = np.pad(image, ((4, 4), (4, 4), (0, 0)))
  offsets = set()
  for draw in range(40):
    crop = pipeline.crop(image, draw, 4)
    assert crop.shape == (32, 32, 3)
    offsets.add(window_offset(crop, padded))
  assert len(offsets) > 10  # Offsets vary with the draw, zero-filled borders included.
  assert any(0 in o or 8 in o for o in offsets)


def test_reflect_fill_translates_within_the_mirrored_border(pipeline):
  image = np.random.default_rng(1).integers(0, 256, (32, 32, 3)).astype(np.uint8)
  padded = np.pad(image, ((2, 2), (2, 2), (0, 0)), mode='reflect')
  offsets = set()
  for draw in range(40):
    crop = pipeline.crop(image, draw, 2, fill='reflect')
    offsets.add(window_offset(crop, padded))
  assert len(offsets) > 8


def test_flip_is_a_mirror_or_nothing(pipeline):
  image = np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype(np.uint8)
  outcomes = set()
  for draw in range(40):
    out = pipeline.flip(image, draw)
    if np.array_equal(out, image):
      outcomes.add('same')
    else:
      np.testing.assert_array_equal(out, image[:, ::-1])
      outcomes.add('mirror')
  assert outcomes == {'same', 'mirror'}


@pytest.mark.parametrize('size', [1, 8, 16])
def test_cutout_zeroes_exactly_one_square(pipeline, size):
  image = np.ones((32, 32, 3), np.float32)
  corners = set()
  for draw in range(10):
    out = pipeline.cutout(image, draw, size)
    assert out.shape == (32, 32, 3)
    zero_rows, zero_cols = np.nonzero(out[:, :, 0] == 0)
    assert len(zero_rows) == size * size
    assert zero_rows.max() - zero_rows.min() == size - 1
    assert zero_cols.max() - zero_cols.min() == size - 1
    assert np.all(out[:, :, 0] == out[:, :, 2])  # The hole goes through every channel.
    corners.add((zero_rows.min(), zero_cols.min()))
  assert len(corners) > 1 or size == 32


def test_cutout_zeroes_n_squares(pipeline):
  image = np.ones((32, 32, 3), np.float32)
  counts = set()
  for draw in range(20):
    zero = pipeline.cutout(image, draw, 5, holes=3)[:, :, 0] == 0
    assert 25 <= zero.sum() <= 75 and covered_by_zero_squares(zero, 5)
    counts.add(int(zero.sum()))
  assert 75 in counts  # Three separate holes, whenever they do not overlap.


def test_augment_keeps_shape_and_normalizes(pipeline):
  image = np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype(np.uint8)
  plain = pipeline.augment(image, 0, augment_config(crop_padding=0, flip=False))
  expected = (image / 255.0 - np.array(cifar10.MEAN)) / np.array(cifar10.STD)
  np.testing.assert_allclose(plain, expected, rtol=1e-5, atol=1e-6)
  full = pipeline.augment(image, 0, augment_config(cutout=8))
  assert full.shape == (32, 32, 3) and full.dtype == np.float32
  # Cutout comes after normalization: its holes are zero (the mean), the rest is normalized.
  gray = pipeline.augment(np.full((32, 32, 3), 128, np.uint8), 0,
                          augment_config(crop_padding=0, cutout=8))
  assert gray.shape == (32, 32, 3) and gray.dtype == np.float32
  values = gray.reshape(-1, 3)
  assert np.sum(np.all(values == 0, axis=1)) == 64
  np.testing.assert_allclose(values[np.any(values != 0, axis=1)][0],
                             (128 / 255 - np.array(cifar10.MEAN)) / np.array(cifar10.STD),
                             rtol=1e-5)


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
