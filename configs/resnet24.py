"""ResNet-24: B=3,5,3, C=64,128,256, F=3, K=1, global pool. 4,918,602 trainable parameters.

The design of configs/default.py with its source's recipe: SGD (momentum 0.9, weight decay 5e-4,
learning rate 0.01 as its source states), cosine decay, crop + flip + cutout (one 8x8 hole), 200
epochs at batch 128.
  python launch.py --config configs/resnet24.py --workdir runs/resnet24

Source's figure: 95.01% CIFAR-10 test accuracy.
Measured here: not measured yet at batch 128. Scaled to batch 512 (learning rate 0.04) in bf16,
91.58% on the JPEG copy of CIFAR-10 in 5 min 25 s on one H100 (an earlier version of the code):
  python launch.py --config configs/resnet24.py --workdir runs/resnet24_b512 \
      --config.batch_size=512 --config.optimizer.learning_rate=0.04 \
      --config.half_precision=True --config.data.dir=path/to/cifar10_jpeg
Another recipe (100 epochs at batch 1024, Nesterov SGD at 0.4 with 2 warm-up epochs, cosine,
label smoothing 0.1, cutout 8, flip TTA) measured 92.59% there in 2 min 52 s.

The source also tried these variants (it reports no accuracy for them; not measured yet here);
pick one after a colon:
  mixup          + mixup (alpha 1, as the mixup paper on CIFAR-10)
  cutmix         + CutMix (alpha 1, as the CutMix paper on CIFAR)
  adadelta       AdaDelta (learning rate 1, rho 0.9, constant) instead of SGD
  adadelta_clip  AdaDelta with gradients clipped to global norm 1
  python launch.py --config configs/resnet24.py:mixup --workdir runs/resnet24_mixup
"""

from resnet_jax import defaults

_ADADELTA = {'optimizer.name': 'adadelta', 'optimizer.learning_rate': 1.0,
             'optimizer.schedule': 'constant'}
PRESETS = {  # Name after the colon -> the fields it changes.
    'mixup': {'augment.mixup_alpha': 1.0},
    'cutmix': {'augment.cutmix_alpha': 1.0},
    'adadelta': _ADADELTA,
    'adadelta_clip': _ADADELTA | {'optimizer.clip_global_norm': 1.0},
}


def get_config(preset: str = ''):
  config = defaults.get_config()
  config.augment.cutout = 8
  config.optimizer.learning_rate = 0.01
  if preset and preset not in PRESETS:
    raise ValueError(f'configs/resnet24.py:{preset}: unknown variant; expected one of '
                     f'{", ".join(PRESETS)}')
  config.update_from_flattened_dict(PRESETS.get(preset, {}))
  return config
