"""Where training batches are made, decided here and nowhere else.

Both pipelines walk the one data order (`data_order`), and every augmentation draw is a function
of (seed, epoch, position in the epoch), so switching pipelines, devices or hosts keeps the images
and their order.
- device: the training set is on every device; each step gathers its batch by index and augments
  it inside the jitted step (`device_data`), so no Python runs between steps.
- host: tf.data on the CPU augments, on each process, the rows of every global batch that its
  devices take (`input_pipeline`); needed for random perspective, which has no device form.
"""

import jax
import numpy as np

from resnet_jax import data_order, device_data, parallel
from resnet_jax.errors import ConfigError

CHOICES = ('auto', 'device', 'host')


def choose(config) -> str:
  """The pipeline `config` trains with: `auto` is the device one whenever the augmentation
  allows it."""
  if config.data.pipeline == 'auto':
    return 'device' if device_data.has_device_form(config.augment) else 'host'
  return config.data.pipeline


def check(config) -> None:
  """Refuses a pipeline that cannot make the configured augmentation."""
  on_device = device_data.has_device_form(config.augment)
  if config.data.pipeline == 'device' and not on_device:
    raise ConfigError('config.data.pipeline=device: random perspective '
                      f'(config.augment.perspective_distortion='
                      f'{config.augment.perspective_distortion}) runs only in the host '
                      'pipeline; use config.data.pipeline=host or auto')
  if config.augment.alternating_flip and choose(config) != 'device':
    raise ConfigError('config.augment.alternating_flip=True runs in the device pipeline only, '
                      'which config.data.pipeline=host and random perspective rule out')


class DeviceFeed:
  """Hands each chunk of steps the dataset indices of its batches; the step augments them."""
  name = 'device'

  def __init__(self, config, mesh, images, labels):
    self.config, self.mesh = config, mesh
    self.dataset = parallel.put_global({'image': images, 'label': labels},
                                       parallel.replicated(mesh))
    self.num_images = len(images)
    self.steps_per_epoch = data_order.steps_per_epoch(len(images), config.batch_size)
    self._batches = (None, None)  # (epoch, its batches).

  def batch_in_step(self, dataset, row, step):
    """Inside the jitted step: the augmented batch of training step `step`."""
    return device_data.train_batch(dataset, row, seed=self.config.seed, step=step,
                                   steps_per_epoch=self.steps_per_epoch,
                                   augment_config=self.config.augment)

  def chunk(self, start: int, end: int, rows: int):
    """(dataset, indices of steps `start` .. `end - 1` as `rows` rows, zeros past the end)."""
    epoch, first = divmod(start, self.steps_per_epoch)
    if self._batches[0] != epoch:
      self._batches = epoch, data_order.epoch_batches(self.config.seed, epoch, self.num_images,
                                           self.config.batch_size)
    indices = np.zeros((rows, self.config.batch_size), np.int32)
    indices[:end - start] = self._batches[1][first:first + end - start]
    return self.dataset, parallel.put_global(indices,
                                             parallel.batch_sharding(self.mesh, batch_axis=1))


class HostFeed:
  """Hands each chunk of steps its augmented batches, made by tf.data on the host."""
  name = 'host'

  def __init__(self, config, mesh, images, labels):
    from resnet_jax import input_pipeline  # TensorFlow: imported only by runs that use it.
    self.config, self.mesh = config, mesh
    self.steps_per_epoch = data_order.steps_per_epoch(len(images), config.batch_size)
    images, labels = np.asarray(images), np.asarray(labels)  # tf.data reads host arrays.
    self._batches = lambda first_step: input_pipeline.train_batches(
        images, labels, batch_size=config.batch_size, augment_config=config.augment,
        seed=config.seed, process_index=jax.process_index(),
        process_count=jax.process_count(), first_step=first_step)
    self._iterator = None

  def batch_in_step(self, dataset, row, step):
    del dataset, step  # The row is the batch.
    return row

  def chunk(self, start: int, end: int, rows: int):
    """(None, this process's rows of the batches of steps `start` .. `end - 1`, as `rows` rows
    split over the mesh; rows past the end are zeros)."""
    if self._iterator is None:
      self._iterator = self._batches(start)
    batches = [next(self._iterator) for _ in range(end - start)]
    batches += [jax.tree.map(np.zeros_like, batches[0])] * (rows - len(batches))
    return None, parallel.shard_batch(jax.tree.map(lambda *rows: np.stack(rows), *batches),
                                      self.mesh, batch_axis=1)


def create(config, mesh, images, labels):
  """The feed of the pipeline `config` trains with, over the training `images` and `labels`."""
  return {'device': DeviceFeed, 'host': HostFeed}[choose(config)](config, mesh, images, labels)
