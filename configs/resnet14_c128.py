"""N=2, C1=128: B=3,3, C=128,256, F=3, K=3, global pool. 4,435,082 trainable parameters.

Recipe as its source gives it: Adam (learning rate 1e-3, constant), batch 64, 60 epochs, crop +
flip, DropBlock in the residual layers and dropout before the classifier. The source does not
give their sizes; here DropBlock drops 3x3 blocks (configs/default.py's size) at a rate rising
linearly to 0.1 over the run (as in the DropBlock paper) and dropout is 0.2.
  python launch.py --config configs/resnet14_c128.py --workdir runs/resnet14_c128

Source's figure: 90.70% CIFAR-10 test accuracy. Measured here: not measured yet.
"""

from resnet_jax import defaults


def get_config():
  config = defaults.get_config()
  config.model.blocks = (3, 3)
  config.model.channels = (128, 256)
  config.model.skip_kernel = 3
  config.model.dropblock_rate = 0.1
  config.model.dropout = 0.2
  config.optimizer.name = 'adam'
  config.optimizer.learning_rate = 1e-3
  config.optimizer.weight_decay = 0.0
  config.optimizer.schedule = 'constant'
  config.batch_size = 64
  config.num_epochs = 60
  return config
