"""N=2, C1=128: B=3,3, C=128,256, F=3, K=3, global pool. 4,435,082 trainable parameters.

Source: reported at 90.70% CIFAR-10 test accuracy with Adam (learning rate 1e-3, constant),
batch 64, 60 epochs, crop + flip.
  python launch.py --config configs/resnet14_c128.py --workdir runs/resnet14_c128
"""

from configs import default


def get_config():
  config = default.get_config()
  config.model.blocks = (3, 3)
  config.model.channels = (128, 256)
  config.model.conv_kernel = 3
  config.model.skip_kernel = 3
  config.model.pool = 0
  config.optimizer.name = 'adam'
  config.optimizer.learning_rate = 1e-3
  config.optimizer.weight_decay = 0.0
  config.optimizer.schedule = 'constant'
  config.batch_size = 64
  config.num_epochs = 60
  return config
