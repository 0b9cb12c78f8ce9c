"""The defaults (resnet_jax/defaults.py) as a config file: ResNet-24 (B=3,5,3, C=64,128,256),
SGD at 0.1 (cosine), crop + flip, 200 epochs at batch 128.
  python launch.py --config configs/default.py --workdir runs/default

Measured here: not measured yet.
"""

from resnet_jax.defaults import get_config  # pylint: disable=unused-import
