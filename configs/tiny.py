"""A two-layer ResNet of 4 and 8 channels (1,454 trainable parameters) that trains in seconds on
a CPU: the tests' model, and a quick check that a machine and the data work end to end.

configs/default.py with a tiny design, batch 8 and one epoch. Its accuracy is not a goal; not
measured.
  python launch.py --config configs/tiny.py --workdir runs/tiny
"""

from configs import default


def get_config():
  config = default.get_config()
  config.model.blocks = (1, 1)
  config.model.channels = (4, 8)
  config.optimizer.learning_rate = 0.05
  config.batch_size = 8
  config.eval_batch_size = 8
  config.num_epochs = 1
  config.log_every_steps = 2
  return config
