"""The host pipeline: the training images through tf.data, seeded, augmented and normalized.

It walks the data order of `data_order`; its augmentation draws are functions of (seed, epoch,
position), so a run restarted at a given step sees the same batches. Imported only by runs that
use it (TensorFlow takes seconds to import).
"""

from typing import Iterator

import numpy as np

from resnet_jax import cifar10, data_order, tensorflow_runtime

tf = tensorflow_runtime.load()


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


def train_batches(images, labels, *, batch_size: int, augment_config, seed: int,
                  process_index: int = 0, process_count: int = 1,
                  first_step: int = 0) -> Iterator[dict]:
  """This process's rows of every global batch of `batch_size` augmented training images, from
  step `first_step` on, endlessly.

  The batches are `data_order.epoch_batches`, the device pipeline's; process `process_index` of
  `process_count` takes the same slice of each, and each image's augmentation draw is a function
  of (seed, epoch, its position in the epoch), so the run does not depend on the process count.
  """
  local = batch_size // process_count
  rows = slice(process_index * local, (process_index + 1) * local)
  images_t, labels_t = tf.constant(images), tf.constant(labels)
  steps_per_epoch = data_order.steps_per_epoch(len(images), batch_size)
  positions = np.arange(steps_per_epoch * batch_size).reshape(steps_per_epoch, batch_size)
  epoch, skip = divmod(first_step, steps_per_epoch)
  while True:
    indices = data_order.epoch_batches(seed, epoch, len(images), batch_size)
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
