"""A two-layer ResNet of 4 and 8 channels (1,454 trainable parameters) that trains in seconds on
a CPU: the tests' model, and a quick check that a machine and the data work end to end.

configs/default.py with a tiny design, batch 8 and one epoch. Its accuracy is not a goal.
  python launch.py --config configs/tiny.py --workdir runs/tiny

Measured here: on the real CIFAR-10 subset (5,169 train / 1,017 test images), 24.19% test
accuracy, 55 s from launch to report on a busy 2-core CPU (load 8):
  python launch.py --config configs/tiny.py --workdir runs/tiny \
      --config.data.dir=path/to/cifar10_real
"""

from resnet_jax import defaults


def get_config():
  config = defaults.get_config()
  config.model.blocks = (1, 1)
  config.model.channels = (4, 8)
  config.optimizer.learning_rate = 0.05
  config.batch_size = 8
  config.eval_batch_size = 8
  config.num_epochs = 1
  config.log_every_steps = 2
  return config
