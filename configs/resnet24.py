"""ResNet-24: B=3,5,3, C=64,128,256, F=3, K=1, global pool. 4,918,602 trainable parameters.

Source: the course project's best design, reported at 95.01% CIFAR-10 test accuracy with SGD
(momentum 0.9, weight decay 5e-4, learning rate 0.01 as its source states), cosine decay, crop +
flip + cutout (one 8x8 hole), 200 epochs at batch 128.
  python launch.py --config configs/resnet24.py --workdir runs/resnet24

The source also tried these variants (it reports no accuracy for them); pick one after a colon:
  mixup          + mixup (alpha 1, as the mixup paper on CIFAR-10)
  cutmix         + CutMix (alpha 1, as the CutMix paper on CIFAR)
  adadelta       AdaDelta (learning rate 1, rho 0.9, constant) instead of SGD
  adadelta_clip  AdaDelta with gradients clipped to global norm 1
  python launch.py --config configs/resnet24.py:mixup --workdir runs/resnet24_mixup
"""

from configs import default

PRESETS = ('mixup', 'cutmix', 'adadelta', 'adadelta_clip')


def get_config(preset: str = ''):
  config = default.get_config()
  config.model.blocks = (3, 5, 3)
  config.model.channels = (64, 128, 256)
  config.model.conv_kernel = 3
  config.model.skip_kernel = 1
  config.model.pool = 0
  config.augment.cutout = 8
  config.optimizer.name = 'sgd'
  config.optimizer.learning_rate = 0.01
  config.optimizer.momentum = 0.9
  config.optimizer.weight_decay = 5e-4
  config.optimizer.schedule = 'cosine'
  config.batch_size = 128
  config.num_epochs = 200
  if preset and preset not in PRESETS:
    raise ValueError(f'configs/resnet24.py:{preset}: unknown variant; expected one of '
                     f'{", ".join(PRESETS)}')
  if preset == 'mixup':
    config.augment.mixup_alpha = 1.0
  elif preset == 'cutmix':
    config.augment.cutmix_alpha = 1.0
  elif preset.startswith('adadelta'):
    config.optimizer.name = 'adadelta'
    config.optimizer.learning_rate = 1.0
    config.optimizer.schedule = 'constant'
    if preset == 'adadelta_clip':
      config.optimizer.clip_global_norm = 1.0
  return config
