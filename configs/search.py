"""The design space under 5M parameters, searched as the source projects did by hand.

Grid: N = 2..4 residual layers, B_i = 1..5 blocks in each, C_1 = 32..128 (each later layer
doubles it), F = 3, K = 1, global pooling: 3,875 designs, 928 within the budget. Lists the 20
largest with FLOPs per image and depth, in about half a minute on a CPU; the first is
B = 5,3,5,3, C = 32..256 (depth 34, 4,994,218 parameters, 509 MFLOPs per image):
  python launch.py --config configs/search.py --mode=search

Compound: ResNet-18 (B = 2,2,2,2, C = 64..512, 11,173,962 parameters) scaled by 1.2^phi in
depth and 1.1^phi in width (EfficientNet's alpha and beta), phi in steps of 0.25. The largest
fit is phi = -4: B = 1,1,1,1, C = 44,87,175,350, 2,292,758 parameters; at phi = -3.75 the
rounded-up depth is back to two blocks per layer and the design has 5,471,080.
  python launch.py --config configs/search.py --mode=search --config.search.scale=compound

Either, plus a 5-epoch proxy run on a fifth of the training set for the 3 largest, each in
runs/search/<design> (running it again resumes them; a larger train_epochs extends them):
  python launch.py --config configs/search.py --mode=search --workdir runs/search \
      --config.search.train_top=3

Accuracy: a search lists designs; the proxy runs' accuracy is not measured yet.
"""

from resnet_jax import defaults


def get_config():
  config = defaults.get_config()
  config.model.blocks = (2, 2, 2, 2)  # The base of compound scaling: ResNet-18.
  config.model.channels = (64, 128, 256, 512)
  config.search.blocks = (1, 2, 3, 4, 5)
  config.search.channels = (32, 48, 64, 96, 128)
  return config
