"""A fast recipe after the CIFAR-10 speed records (airbench). PROVISIONAL: CPU proxy only.

ResNet-24's design (B=3,5,3, C=64,128,256; 4,914,762 trainable parameters with the BatchNorm
scale fixed) trained for 20 epochs at batch 1024: Nesterov SGD with a 2-epoch warm-up and
cosine decay, label smoothing 0.2, Lookahead, BatchNorm with a fixed scale and a faster bias,
GELU, identity (dirac) conv init, bf16, flip test-time augmentation.
  python launch.py --config configs/fast.py --workdir runs/fast

Not yet measured on a GPU; the design, the epochs and the device-side techniques (alternating
flip, translation, multi-view TTA, fractional epochs) are still to come. CPU proxy (small
design, real CIFAR-10 subset): benchmarks/cpu_proxy.py, figures in its docstring's command.
"""

from configs import default


def get_config():
  config = default.get_config()
  config.model.activation = 'gelu'
  config.model.dirac_init = True
  config.model.bn_scale = False
  config.optimizer.nesterov = True
  config.optimizer.learning_rate = 0.4
  config.optimizer.warmup_epochs = 2.0
  config.optimizer.bias_lr_factor = 8.0
  config.optimizer.lookahead_sync_period = 5
  config.label_smoothing = 0.2
  config.augment.cutout = 8
  config.tta_flip = True
  config.half_precision = True
  config.batch_size = 1024
  config.eval_batch_size = 1024
  config.num_epochs = 20
  return config
