"""TensorFlow, which resnet_jax uses only for data: tfds' CIFAR-10, decoding image folders, and
the host pipeline's tf.data. Imported on first use (the import takes seconds, so a run of the
device pipeline on a local copy never pays it), quiet, and kept off the accelerators, whose
memory belongs to JAX."""

import functools
import os


def quiet(environ=os.environ) -> None:
  """No TensorFlow start-up notices, unless the user asked for them (before its import)."""
  environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')  # Else it announces oneDNN at start.


@functools.cache
def load():
  """The `tensorflow` module, seeing no GPU (set before its first op, once per process)."""
  quiet()
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.set_visible_devices([], 'GPU')
  return tf
