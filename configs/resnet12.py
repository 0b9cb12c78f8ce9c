"""ResNet-18 with one block in layers 2-4: B=2,1,1,1, C=64,128,256,512, F=3, K=1, global pool.

4,977,226 trainable parameters. Its source trained it with the recipe of configs/resnet18_c32.py
(SGD at 0.01 with step decay, 100 epochs at batch 128, crop + flip), which this config reuses.
  python launch.py --config configs/resnet12.py --workdir runs/resnet12

Source's figure: none recorded with this design.
Measured here: in bf16, 88.04% at epoch 90 on the JPEG copy of CIFAR-10 on one H100 (an earlier
version of the code; the run was stopped by a time box at epoch 99.6, so 100 epochs are not
measured yet):
  python launch.py --config configs/resnet12.py --workdir runs/resnet12 \
      --config.half_precision=True --config.data.dir=path/to/cifar10_jpeg
"""

from configs import resnet18_c32


def get_config():
  config = resnet18_c32.get_config()
  config.model.blocks = (2, 1, 1, 1)
  config.model.channels = (64, 128, 256, 512)
  return config
