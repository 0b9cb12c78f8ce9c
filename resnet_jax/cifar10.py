"""CIFAR-10's facts, in one leaf module: image shape, class names, per-channel mean and std, and
the normalization they define."""

import numpy as np

IMAGE_SHAPE = (32, 32, 3)
CLASS_NAMES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse',
               'ship', 'truck')
NUM_CLASSES = len(CLASS_NAMES)
MEAN = (0.4914, 0.4822, 0.4465)  # Of the training images' pixels in [0, 1], per channel.
STD = (0.2470, 0.2435, 0.2616)


def normalize(images):
  """Pixels in [0, 255] to float32 standardized with the mean and std: NumPy arrays stay on the
  host, JAX arrays (and tracers) on their devices."""
  return ((images.astype(np.float32) / np.float32(255) - np.array(MEAN, np.float32))
          / np.array(STD, np.float32))
