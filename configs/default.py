"""Shared defaults; every other config starts from these and overrides a few fields.

The model here is ResNet-24 (B=3,5,3, C=64,128,256): 4,918,602 trainable parameters.
  python launch.py --config configs/default.py --workdir runs/default
"""

import ml_collections
from ml_collections import config_dict


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0

  config.model = ml_collections.ConfigDict()
  config.model.blocks = (3, 5, 3)  # B_i; the number of residual layers N is its length.
  config.model.channels = (64, 128, 256)  # C_i.
  # F_i and K_i: an int for every layer, or one per layer (e.g. --config.model.conv_kernel=3,3,5).
  config.model.conv_kernel = config_dict.FieldReference(3, field_type=object)
  config.model.skip_kernel = config_dict.FieldReference(1, field_type=object)
  config.model.pool = 0  # P: average-pool window; 0 = global average pooling.
  config.model.num_classes = 10
  config.model.max_params = 5_000_000  # Designs above this are refused; 0 = no limit.

  config.data = ml_collections.ConfigDict()
  # '' = tfds.load('cifar10'). Or a local copy: a cifar-10-batches-py folder, or an image
  # folder with train/<class>/* and test/<class>/*.
  config.data.dir = ''

  config.augment = ml_collections.ConfigDict()
  config.augment.crop_padding = 4  # Random 32x32 crop after zero padding; 0 = off.
  config.augment.flip = True  # Random horizontal flip.
  config.augment.cutout = 0  # Side of the one square hole; 0 = off.

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = 'sgd'  # sgd | adam | adamw
  config.optimizer.learning_rate = 0.1
  config.optimizer.momentum = 0.9  # sgd only; 0 = plain SGD.
  config.optimizer.nesterov = False
  config.optimizer.weight_decay = 5e-4  # L2 for sgd and adam; decoupled for adamw.
  config.optimizer.schedule = 'cosine'  # constant | cosine
  config.optimizer.warmup_epochs = 0.0
  config.label_smoothing = 0.0

  config.batch_size = 128  # Global: split over every device of every process.
  config.eval_batch_size = 512
  config.num_epochs = 200
  config.log_every_steps = 100
  config.eval_every_epochs = 1
  config.checkpoint_every_epochs = 1
  config.checkpoint_every_steps = 0  # Also checkpoint every this many steps; 0 = off.
  config.keep_checkpoints = 3
  config.nonfinite_loss = 'stop'  # stop | skip: what a NaN/inf loss or gradient does.
  return config
