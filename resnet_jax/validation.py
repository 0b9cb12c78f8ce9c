"""Checks of a config before any work starts, each refusal a one-line `ConfigError`."""

import copy
import math

from resnet_jax import cifar10, models, optim, pipelines
from resnet_jax.errors import ConfigError

SEARCH_SCALES = ('grid', 'compound')


def _is_int(value) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def _positive_ints(name, value, length=None) -> tuple[int, ...]:
  values = tuple(value) if isinstance(value, (tuple, list)) else None
  if not values or not all(_is_int(v) and v > 0 for v in values):
    raise ConfigError(f'{name}={value!r}: expected a non-empty list of positive integers')
  if length is not None and len(values) != length:
    raise ConfigError(f'{name}={value!r} has {len(values)} entries; it needs one per residual '
                      f'layer, {length} (the length of config.model.blocks)')
  return values


def _kernels(name, value, num_layers) -> None:
  if _is_int(value):
    if value <= 0:
      raise ConfigError(f'{name}={value!r}: a kernel size must be a positive integer')
  else:
    _positive_ints(name, value, num_layers)


def check_design(model_config) -> None:
  """Validates `config.model` apart from its size (--mode=summary shows any well-formed design)."""
  blocks = _positive_ints('config.model.blocks', model_config.blocks)
  n = len(blocks)
  _positive_ints('config.model.channels', model_config.channels, n)
  _kernels('config.model.conv_kernel', model_config.conv_kernel, n)
  _kernels('config.model.skip_kernel', model_config.skip_kernel, n)
  final_size = math.ceil(cifar10.IMAGE_SHAPE[0] / 2 ** (n - 1))
  pool = model_config.pool
  if not _is_int(pool) or not 0 <= pool <= final_size:
    raise ConfigError(f'config.model.pool={pool!r}: with {n} residual layers the last feature '
                      f'map is {final_size}x{final_size}, so the pool size must be an integer '
                      f'from 1 to {final_size}, or 0 for global average pooling')
  check_choice('model.relu', model_config.relu, ('auto', *models.RELUS))
  check_choice('model.activation', model_config.activation, models.ACTIVATIONS)
  for name in ('bn_scale', 'dirac_init', 'whitening'):
    if not isinstance(model_config[name], bool):
      raise ConfigError(f'config.model.{name}={model_config[name]!r}: must be True or False')
  if not _is_int(model_config.num_classes) or model_config.num_classes < 2:
    raise ConfigError(f'config.model.num_classes={model_config.num_classes!r}: must be >= 2')
  _fraction('model.dropblock_rate', model_config.dropblock_rate)
  _fraction('model.dropout', model_config.dropout)
  size = model_config.dropblock_size
  if model_config.dropblock_rate and (not _is_int(size) or not 1 <= size <= final_size):
    raise ConfigError(f'config.model.dropblock_size={size!r}: a block must be an integer from 1 '
                      f'to {final_size}, the side of the last feature map ({n} residual layers)')
  budget = model_config.max_params
  if not _is_int(budget) or budget < 0:
    raise ConfigError(f'config.model.max_params={budget!r}: must be an integer >= 0 '
                      '(0 turns the budget check off)')


def check_model(model_config) -> int:
  """Validates `config.model`, its size included; returns its trainable parameter count."""
  check_design(model_config)
  count = models.trainable_params(models.create_model(model_config))
  budget = model_config.max_params
  if budget and count > budget:
    raise ConfigError(f'this design has {count:,} trainable parameters, over the budget of '
                      f'{budget:,} (config.model.max_params); make it smaller, or raise '
                      'config.model.max_params (0 turns the check off)')
  return count


def _is_number(value) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def _share(name, value) -> None:
  """A part of a dataset: a fraction in (0, 1]."""
  if not (_is_number(value) and 0 < value <= 1):
    raise ConfigError(f'{name}={value!r}: must be a fraction in (0, 1] (1 = all of it)')


def _fraction(name, value, *, upper_inclusive=False) -> None:
  """A number in [0, 1) (or [0, 1])."""
  ok = (_is_number(value) and 0 <= value
        and (value <= 1 if upper_inclusive else value < 1))
  if not ok:
    raise ConfigError(f'config.{name}={value!r}: must be a number in '
                      f'[0, 1{"]" if upper_inclusive else ")"}')


def _field(config, name):
  for part in name.split('.'):
    config = config[part]
  return config


def check_numbers(config, *, positive=(), non_negative=(), integers=()) -> None:
  """Each dotted field name must hold a number of the stated kind."""
  for name in positive + non_negative:
    value = _field(config, name)
    if not _is_number(value) or not (value >= 0 if name in non_negative else value > 0):
      raise ConfigError(f'config.{name}={value!r}: must be a number '
                        f'{">= 0" if name in non_negative else "> 0"}')
  for name in integers:
    if not _is_int(_field(config, name)):
      raise ConfigError(f'config.{name}={_field(config, name)!r}: must be an integer')


def check_choice(name, value, allowed) -> None:
  if value not in allowed:
    raise ConfigError(f'config.{name}={value!r}: expected one of {", ".join(allowed)}')


def check_divisible(name, value, num_devices) -> None:
  if value % num_devices:
    raise ConfigError(f'config.{name}={value} does not divide evenly over the {num_devices} '
                      f'devices; use a multiple of {num_devices}')


def check_config(config, *, num_devices: int, process_count: int = 1) -> int:
  """Everything checkable before data is read; returns the trainable parameter count."""
  count = check_model(config.model)
  counts = ('batch_size', 'eval_batch_size', 'log_every_steps',
            'eval_every_epochs', 'checkpoint_every_epochs', 'keep_checkpoints',
            'optimizer.step_epochs', 'augment.cutout_holes', 'augment.perspective_repeats',
            'benchmark.steps', 'benchmark.pipeline_batches', 'benchmark.loop_steps',
            'benchmark.dataset_size')
  sizes = ('checkpoint_every_steps', 'steps_per_dispatch', 'tta_shift', 'augment.crop_padding',
           'augment.cutout', 'early_stopping_patience', 'benchmark.warmup_steps',
           'optimizer.lookahead_sync_period')
  check_numbers(config, positive=counts + ('num_epochs', 'optimizer.learning_rate',
                                           'optimizer.bias_lr_factor', 'benchmark.loop_seconds'),
                non_negative=sizes + ('optimizer.momentum', 'optimizer.weight_decay',
                                      'optimizer.warmup_epochs', 'optimizer.clip_global_norm',
                                      'augment.mixup_alpha', 'augment.cutmix_alpha'),
                integers=counts + sizes + ('seed',))
  for name in ('optimizer.nesterov', 'optimizer.decay_all_params', 'augment.flip',
               'augment.alternating_flip', 'tta_flip', 'half_precision'):
    if not isinstance(_field(config, name), bool):
      raise ConfigError(f'config.{name}={_field(config, name)!r}: must be True or False')
  check_choice('optimizer.name', config.optimizer.name, optim.OPTIMIZERS)
  check_choice('optimizer.schedule', config.optimizer.schedule, optim.SCHEDULES)
  check_choice('nonfinite_loss', config.nonfinite_loss, ('stop', 'skip'))
  profile = config.profile_steps
  if not (isinstance(profile, (tuple, list)) and len(profile) == 2
          and all(_is_int(v) and v >= 0 for v in profile)):
    raise ConfigError(f'config.profile_steps={profile!r}: expected two integers >= 0, '
                      '(after, count), e.g. 10,5 to trace steps 11-15; 0,0 = off')
  check_choice('data.pipeline', config.data.pipeline, pipelines.CHOICES)
  check_choice('augment.crop_fill', config.augment.crop_fill, ('zero', 'reflect'))
  side = cifar10.IMAGE_SHAPE[0]
  if config.augment.crop_fill == 'reflect' and config.augment.crop_padding >= side:
    raise ConfigError(f'config.augment.crop_padding={config.augment.crop_padding}: reflected '
                      f'padding must be narrower than the {side}-pixel image')
  if config.tta_shift >= side:
    raise ConfigError(f'config.tta_shift={config.tta_shift}: a translated view must keep part of '
                      f'the {side}-pixel image; use 0 to {side - 1} (airbench uses 1)')
  pipelines.check(config)
  if config.optimizer.schedule == 'onecycle' and config.optimizer.warmup_epochs:
    raise ConfigError(f'config.optimizer.warmup_epochs={config.optimizer.warmup_epochs}: the '
                      'onecycle schedule warms up by itself (its first 30%); set it to 0')
  if not config.optimizer.step_factor > 1:
    raise ConfigError(f'config.optimizer.step_factor={config.optimizer.step_factor!r}: the '
                      'step schedule divides the learning rate by it, so it must be > 1')
  step_size = config.optimizer.lookahead_step_size
  if not (_is_number(step_size) and 0 < step_size <= 1):
    raise ConfigError(f'config.optimizer.lookahead_step_size={step_size!r}: must be a number in '
                      '(0, 1] (the fraction of the way the slow weights move at each sync)')
  _fraction('label_smoothing', config.label_smoothing)
  _fraction('ema_decay', config.ema_decay)
  _fraction('data.val_fraction', config.data.val_fraction)
  _fraction('augment.perspective_distortion', config.augment.perspective_distortion,
            upper_inclusive=True)
  _fraction('augment.perspective_prob', config.augment.perspective_prob, upper_inclusive=True)
  if config.augment.cutout > cifar10.IMAGE_SHAPE[0]:
    raise ConfigError(f'config.augment.cutout={config.augment.cutout}: the hole must fit in '
                      f'the {cifar10.IMAGE_SHAPE[0]}x{cifar10.IMAGE_SHAPE[1]} image')
  _share('config.data.train_fraction', config.data.train_fraction)
  check_divisible('batch_size', config.batch_size, num_devices)
  check_divisible('eval_batch_size', config.eval_batch_size, num_devices)
  check_divisible('batch_size', config.batch_size, process_count)
  return count


def check_search(config) -> None:
  """Validates `config.search`, and config.model as the base of compound scaling."""
  s = config.search
  check_choice('search.scale', s.scale, SEARCH_SCALES)
  for name in ('num_layers', 'blocks', 'channels', 'conv_kernel', 'skip_kernel'):
    _positive_ints(f'config.search.{name}', s[name])
  pools = tuple(s.pool) if isinstance(s.pool, (tuple, list)) else None
  if not pools or not all(_is_int(p) and p >= 0 for p in pools):
    raise ConfigError(f'config.search.pool={s.pool!r}: expected a non-empty list of integers '
                      '>= 0 (0 = global average pooling)')
  check_numbers(config, positive=('search.max_designs', 'search.phi_step', 'search.train_epochs'),
                non_negative=('search.rows', 'search.train_top'),
                integers=('search.max_designs', 'search.rows', 'search.train_top',
                          'search.train_epochs'))
  for name in ('depth_coefficient', 'width_coefficient'):
    if not (_is_number(s[name]) and s[name] >= 1):
      raise ConfigError(f'config.search.{name}={s[name]!r}: must be a number >= 1 '
                        '(1 = no scaling in that dimension)')
  if s.depth_coefficient == s.width_coefficient == 1:
    raise ConfigError('config.search.depth_coefficient and width_coefficient are both 1, so '
                      'compound scaling cannot change the design; raise one (EfficientNet '
                      'uses 1.2 and 1.1)')
  _share('config.search.train_fraction', s.train_fraction)
  if s.rows and s.train_top > s.rows:
    raise ConfigError(f'config.search.train_top={s.train_top} is more than the {s.rows} '
                      'designs listed (config.search.rows); lower it or raise rows')
  budget = config.model.max_params
  if s.scale == 'compound' and not (_is_int(budget) and budget > 0):
    raise ConfigError(f'config.model.max_params={budget!r}: compound scaling needs a budget, '
                      'an integer > 0')
  if not _is_int(budget) or budget < 0:
    raise ConfigError(f'config.model.max_params={budget!r}: must be an integer >= 0 '
                      '(0 = no limit)')
  base = copy.deepcopy(config.model)
  base.max_params = 0  # The base of compound scaling may be over the budget.
  check_model(base)
