"""ResNet-18 with one block in layers 2-4: B=2,1,1,1, C=64,128,256,512, F=3, K=1, global pool.

4,977,226 trainable parameters. Recipe as its source gives it: SGD (learning rate 0.01,
momentum 0.9) with L2 weight decay 5e-4 (on the kernels), step decay of the learning rate,
100 epochs, crop + flip. The source does not give the steps; here the rate is divided by 10
every 30 epochs, the classic ResNet schedule.
The source's accuracy figure is not recorded with this design.
  python launch.py --config configs/resnet12.py --workdir runs/resnet12
"""

from configs import default


def get_config():
  config = default.get_config()
  config.model.blocks = (2, 1, 1, 1)
  config.model.channels = (64, 128, 256, 512)
  config.model.conv_kernel = 3
  config.model.skip_kernel = 1
  config.model.pool = 0
  config.optimizer.name = 'sgd'
  config.optimizer.learning_rate = 0.01
  config.optimizer.weight_decay = 5e-4
  config.optimizer.schedule = 'step'
  config.optimizer.step_epochs = 30
  config.optimizer.step_factor = 10.0
  config.num_epochs = 100
  return config
