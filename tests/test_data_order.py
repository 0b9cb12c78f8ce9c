"""One data order for both pipelines: the device pipeline and the host's tf.data pipeline feed
the same images in the same order, on any number of processes, and resume mid-epoch."""

import itertools

import jax
import numpy as np

from resnet_jax import data_order, input_pipeline, parallel, pipelines
from tests.conftest import tiny_config

NUM_IMAGES, BATCH = 44, 8  # 5 steps an epoch; the last 4 images of each permutation are left out.


def identifiable_images():
  """Images whose every pixel is their index, so a batch says which images it holds."""
  return (np.broadcast_to(np.arange(NUM_IMAGES, dtype=np.uint8)[:, None, None, None],
                          (NUM_IMAGES, 32, 32, 3)).copy(), np.arange(NUM_IMAGES, dtype=np.int32))


def plain_config(pipeline):
  """No augmentation, so a batch's pixels are its images' indices (normalized)."""
  return tiny_config(batch_size=BATCH, **{'data.pipeline': pipeline, 'augment.crop_padding': 0,
                                          'augment.flip': False})


def device_indices(steps):
  """The dataset indices the device pipeline trains steps 0 .. steps-1 on."""
  config = plain_config('device')
  feed = pipelines.DeviceFeed(config, parallel.make_mesh(jax.devices()[:1]),
                              *identifiable_images())
  rows = []
  for step in range(steps):
    _, chunk = feed.chunk(step, step + 1, rows=1)
    rows.append(np.asarray(chunk)[0])
  return np.stack(rows)


def host_indices(steps, *, process_count=1, first_step=0):
  """The dataset indices in the host pipeline's batches, each process's rows side by side."""
  config = plain_config('host')
  images, labels = identifiable_images()
  per_process = [
      [batch['label'] for batch in itertools.islice(input_pipeline.train_batches(
          images, labels, batch_size=BATCH, augment_config=config.augment, seed=config.seed,
          process_index=p, process_count=process_count, first_step=first_step), steps)]
      for p in range(process_count)]
  return np.stack([np.concatenate(rows) for rows in zip(*per_process)])


def test_both_pipelines_feed_the_same_images_in_the_same_order():
  steps = 12  # Two epochs and a bit: every epoch a new permutation.
  expected = device_indices(steps)
  assert data_order.steps_per_epoch(NUM_IMAGES, BATCH) == 5
  np.testing.assert_array_equal(
      expected[:5], data_order.epoch_batches(0, 0, NUM_IMAGES, BATCH))
  assert not np.array_equal(expected[:5], expected[5:10])  # Each epoch its own permutation.
  np.testing.assert_array_equal(host_indices(steps), expected)
  # Two processes each take half of every global batch: together, the same batches.
  np.testing.assert_array_equal(host_indices(steps, process_count=2), expected)
  # Resumed mid-epoch, the host pipeline picks up where the device one would be.
  np.testing.assert_array_equal(host_indices(5, first_step=7), expected[7:12])


def test_host_augmentation_draws_do_not_depend_on_the_process_count():
  config = tiny_config(batch_size=BATCH, **{'augment.cutout': 8})
  images = np.random.default_rng(0).integers(0, 256, (NUM_IMAGES, 32, 32, 3), dtype=np.uint8)
  labels = np.arange(NUM_IMAGES, dtype=np.int32)

  def batches(process_count):
    per_process = [list(itertools.islice(input_pipeline.train_batches(
        images, labels, batch_size=BATCH, augment_config=config.augment, seed=3,
        process_index=p, process_count=process_count), 6)) for p in range(process_count)]
    return np.stack([np.concatenate([b['image'] for b in rows]) for rows in zip(*per_process)])

  np.testing.assert_array_equal(batches(1), batches(2))
