"""Checks of a config before any work starts, each refusal a one-line `ConfigError`.

Every field of resnet_jax/defaults.py has one rule in `RULES` (what kind of value, in what range),
and the checks walk the config's own fields through them, so a new field cannot go unchecked
(tests/test_config_schema.py). A locked ConfigDict already refuses a value of another type than
the default's (a float for an int field, an int for a bool); what gets through, and what the rules
catch, is a value out of range, a bad entry of a tuple, True for an int, and None (a config file
may blank a field). What relates fields to each other is checked by explicit functions after.
The `search` and `benchmark` sections are checked by their modes only.
"""

import copy
import dataclasses
import functools
import math
from typing import Any, Callable

import ml_collections

from resnet_jax import cifar10, models, optim, pipelines
from resnet_jax.errors import ConfigError

SEARCH_SCALES = ('grid', 'compound')
SEARCH_OBJECTIVES = ('val_accuracy', 'val_loss')
SEARCH_SAMPLERS = ('tpe', 'random')
SEARCH_PRUNERS = ('hyperband', 'halving', 'none')
MODE_SECTIONS = ('search', 'benchmark')  # Checked by check_search and check_benchmark.


@dataclasses.dataclass(frozen=True)
class Rule:
  """What one field may hold: `accepts(value)`, and `allowed`, which the refusal says."""
  accepts: Callable[[Any], bool]
  allowed: str

  def check(self, name: str, value) -> None:
    if not self.accepts(value):
      raise ConfigError(f'config.{name}={value!r}: {self.allowed}')


def _is_int(value) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def number(*, above=None, at_least=None, below=None, at_most=None, integer=False, what=None,
           note=None) -> Rule:
  """A number (an integer if `integer`) within the given bounds; `note` says why, in brackets."""
  lower = ((f'>= {at_least}', f'[{at_least}') if at_least is not None
           else (f'> {above}', f'({above}') if above is not None else None)
  upper = ((f'<= {at_most}', f'{at_most}]') if at_most is not None
           else (f'< {below}', f'{below})') if below is not None else None)
  if lower and upper and integer:
    low = at_least if at_least is not None else above + 1
    bounds = f' from {low} to {at_most if at_most is not None else below - 1}'
  elif lower and upper:
    bounds = f' in {lower[1]}, {upper[1]}'
  else:
    bounds = f' {(lower or upper)[0]}' if lower or upper else ''
  what = what or ('an integer' if integer else 'a number')

  def accepts(value):
    return ((_is_int(value) if integer else _is_number(value))
            and (above is None or value > above) and (at_least is None or value >= at_least)
            and (below is None or value < below) and (at_most is None or value <= at_most))

  return Rule(accepts, f'must be {what}{bounds}' + (f' ({note})' if note else ''))


def integer(**options) -> Rule:
  return number(integer=True, **options)


def cadence(unit: str, *, may_be_off: bool = False) -> Rule:
  """How often something happens, in the unit that ends the field's name (`..._every_epochs`,
  `..._every_steps`): a whole number of them; 0 = never, where `may_be_off`."""
  bounds = {'at_least': 0} if may_be_off else {'above': 0}
  return integer(**bounds, what=f'a whole number of {unit}', note='0 = off' if may_be_off else None)


def choice(*allowed: str) -> Rule:
  return Rule(lambda value: value in allowed, f'expected one of {", ".join(allowed)}')


def _ints(value, low: int) -> bool:
  return (isinstance(value, (tuple, list)) and len(value) > 0
          and all(_is_int(v) and v >= low for v in value))


def value_range(*, above=None, at_least=None, below=None) -> Rule:
  """A search range: () (not searched), or two numbers lo,hi with lo < hi, within the bounds."""
  bounds = number(above=above, at_least=at_least, below=below)

  def accepts(value):
    return isinstance(value, (tuple, list)) and (not value or (
        len(value) == 2 and all(bounds.accepts(v) for v in value) and value[0] < value[1]))

  return Rule(accepts, f'expected () (not searched) or two numbers lo,hi with lo < hi, each '
                       f'{bounds.allowed.removeprefix("must be a number ")}')


BOOL = Rule(lambda value: isinstance(value, bool), 'must be True or False')
TEXT = Rule(lambda value: isinstance(value, str), 'must be a string')
POSITIVE_INTS = Rule(lambda value: _ints(value, 1),
                     'expected a non-empty list of positive integers')
KERNEL = Rule(lambda value: (_is_int(value) and value > 0) or _ints(value, 1),
              'must be a positive integer, or a list of them (one per residual layer)')
FRACTION = number(at_least=0, below=1)  # [0, 1).
PROBABILITY = number(at_least=0, at_most=1)  # [0, 1].
SHARE = number(above=0, at_most=1, what='a fraction', note='1 = all of it')  # Of a dataset.
_SIDE = cifar10.IMAGE_SHAPE[0]

RULES = {
    'seed': integer(),
    'model.blocks': POSITIVE_INTS,
    'model.channels': POSITIVE_INTS,
    'model.conv_kernel': KERNEL,
    'model.skip_kernel': KERNEL,
    'model.pool': integer(at_least=0, note='0 = global average pooling'),
    'model.max_params': integer(at_least=0, note='0 turns the budget check off'),
    'model.dropblock_rate': FRACTION,
    'model.dropblock_size': integer(above=0),
    'model.dropout': FRACTION,
    'model.relu': choice('auto', *models.RELUS),
    'model.activation': choice(*models.ACTIVATIONS),
    'model.bn_scale': BOOL,
    'model.dirac_init': BOOL,
    'model.whitening': BOOL,
    'data.dir': TEXT,
    'data.val_fraction': FRACTION,
    'data.train_fraction': SHARE,
    'data.pipeline': choice(*pipelines.CHOICES),
    'augment.crop_padding': integer(at_least=0),
    'augment.crop_fill': choice('zero', 'reflect'),
    'augment.flip': BOOL,
    'augment.alternating_flip': BOOL,
    'augment.cutout': integer(at_least=0, at_most=_SIDE,
                              note=f'the hole must fit in the {_SIDE}x{_SIDE} image'),
    'augment.cutout_holes': integer(above=0),
    'augment.perspective_distortion': PROBABILITY,
    'augment.perspective_prob': PROBABILITY,
    'augment.perspective_repeats': integer(above=0),
    'augment.mixup_alpha': number(at_least=0),
    'augment.cutmix_alpha': number(at_least=0),
    'optimizer.name': choice(*optim.OPTIMIZERS),
    'optimizer.learning_rate': number(above=0),
    'optimizer.momentum': number(at_least=0),
    'optimizer.nesterov': BOOL,
    'optimizer.weight_decay': number(at_least=0),
    'optimizer.decay_all_params': BOOL,
    'optimizer.clip_global_norm': number(at_least=0),
    'optimizer.bias_lr_factor': number(above=0),
    'optimizer.lookahead_sync_period': integer(at_least=0),
    'optimizer.lookahead_step_size': number(
        above=0, at_most=1, note='the fraction of the way the slow weights move at each sync'),
    'optimizer.schedule': choice(*optim.SCHEDULES),
    'optimizer.warmup_epochs': number(at_least=0),
    'optimizer.step_epochs': integer(above=0),
    'optimizer.step_factor': number(
        above=1, note='the step schedule divides the learning rate by it'),
    'label_smoothing': FRACTION,
    'ema_decay': FRACTION,
    'early_stopping_patience': integer(at_least=0),
    'tta_flip': BOOL,
    'tta_shift': integer(at_least=0, at_most=_SIDE - 1,
                         note=f'a translated view must keep part of the {_SIDE}-pixel image; '
                              'airbench uses 1'),
    'half_precision': BOOL,
    'batch_size': integer(above=0),
    'eval_batch_size': integer(above=0),
    'num_epochs': number(above=0),
    'steps_per_dispatch': integer(at_least=0),
    'log_every_steps': cadence('steps'),
    'eval_every_epochs': cadence('epochs'),
    'checkpoint_every_epochs': cadence('epochs'),
    'checkpoint_every_steps': cadence('steps', may_be_off=True),
    'keep_checkpoints': integer(above=0),
    'nonfinite_loss': choice('stop', 'skip'),
    'profile_steps': Rule(
        lambda value: (isinstance(value, (tuple, list)) and len(value) == 2
                       and all(_is_int(v) and v >= 0 for v in value)),
        'expected two integers >= 0, (after, count), e.g. 10,5 to trace steps 11-15; 0,0 = off'),
    'search.num_layers': POSITIVE_INTS,
    'search.blocks': POSITIVE_INTS,
    'search.channels': POSITIVE_INTS,
    'search.conv_kernel': POSITIVE_INTS,
    'search.skip_kernel': POSITIVE_INTS,
    'search.pool': Rule(lambda value: _ints(value, 0), 'expected a non-empty list of integers '
                        '>= 0 (0 = global average pooling)'),
    'search.learning_rate': value_range(above=0),
    'search.weight_decay': value_range(above=0),
    'search.label_smoothing': value_range(at_least=0, below=1),
    'search.trials': integer(above=0),
    'search.objective': choice(*SEARCH_OBJECTIVES),
    'search.sampler': choice(*SEARCH_SAMPLERS),
    'search.pruner': choice(*SEARCH_PRUNERS),
    'search.min_epochs': integer(above=0),
    'search.reduction_factor': integer(at_least=2),
    'search.final_epochs': number(at_least=0, note='0 = none: the best trial itself is tested'),
    'search.storage': TEXT,
    'search.study_name': TEXT,
    'search.preview': BOOL,
    'search.scale': choice(*SEARCH_SCALES),
    'search.max_designs': integer(above=0),
    'search.depth_coefficient': number(at_least=1, note='1 = no scaling in that dimension'),
    'search.width_coefficient': number(at_least=1, note='1 = no scaling in that dimension'),
    'search.phi_step': number(above=0),
    'search.rows': integer(at_least=0),
    'benchmark.warmup_steps': integer(at_least=0),
    'benchmark.steps': integer(above=0),
    'benchmark.pipeline_batches': integer(above=0),
    'benchmark.loop_steps': integer(above=0),
    'benchmark.loop_seconds': number(above=0),
    'benchmark.dataset_size': integer(above=0),
}


def describe(config) -> list[tuple[str, Any, str]]:
  """(field, its value in `config`, what its rule allows) for every field, in the order of
  `RULES`: the rows of the configuration reference in the docs."""
  return [(name, functools.reduce(lambda section, key: section[key], name.split('.'), config),
           rule.allowed) for name, rule in RULES.items()]


def check_fields(config, prefix: str = '', skip: tuple[str, ...] = ()) -> None:
  """Checks each field of `config` (the section `prefix` of a config, e.g. 'model.') by its
  rule in `RULES`, except the sections named in `skip`."""
  for name, value in config.items():
    if name in skip:
      continue
    if isinstance(value, ml_collections.ConfigDict):
      check_fields(value, f'{prefix}{name}.')
    elif f'{prefix}{name}' not in RULES:
      raise ConfigError(f'config.{prefix}{name} is not a config field; remove it')
    else:
      RULES[f'{prefix}{name}'].check(f'{prefix}{name}', value)


def _check_layers(model_config) -> None:
  """The per-layer fields against the number of layers, and sizes against the last feature map."""
  n = len(model_config.blocks)
  for name in ('channels', 'conv_kernel', 'skip_kernel'):
    value = model_config[name]
    if isinstance(value, (tuple, list)) and len(value) != n:
      raise ConfigError(f'config.model.{name}={value!r} has {len(value)} entries; it needs one '
                        f'per residual layer, {n} (the length of config.model.blocks)')
  final_size = math.ceil(_SIDE / 2 ** (n - 1))
  if model_config.pool > final_size:
    raise ConfigError(f'config.model.pool={model_config.pool!r}: with {n} residual layers the '
                      f'last feature map is {final_size}x{final_size}, so the pool size must be '
                      f'an integer from 1 to {final_size}, or 0 for global average pooling')
  size = model_config.dropblock_size
  if model_config.dropblock_rate and size > final_size:
    raise ConfigError(f'config.model.dropblock_size={size!r}: a block must be an integer from 1 '
                      f'to {final_size}, the side of the last feature map ({n} residual layers)')


def check_design(model_config) -> None:
  """Validates `config.model` apart from its size (--mode=summary shows any well-formed design)."""
  check_fields(model_config, 'model.')
  _check_layers(model_config)


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


def _check_augment(config) -> None:
  """The augmentation against the pipeline, and reflected padding against the image."""
  augment = config.augment
  if augment.crop_fill == 'reflect' and augment.crop_padding >= _SIDE:
    raise ConfigError(f'config.augment.crop_padding={augment.crop_padding}: reflected '
                      f'padding must be narrower than the {_SIDE}-pixel image')
  pipelines.check(config)


def _check_divisible(name, value, num_devices) -> None:
  if value % num_devices:
    raise ConfigError(f'config.{name}={value} does not divide evenly over the {num_devices} '
                      f'devices; use a multiple of {num_devices}')


def check_config(config, *, num_devices: int, process_count: int = 1) -> int:
  """Everything a run reads, checkable before data is read; returns the trainable parameter
  count. The search and benchmark sections are left to their modes."""
  count = check_model(config.model)
  check_fields(config, skip=('model', *MODE_SECTIONS))
  _check_augment(config)
  if config.optimizer.schedule == 'onecycle' and config.optimizer.warmup_epochs:
    raise ConfigError(f'config.optimizer.warmup_epochs={config.optimizer.warmup_epochs}: the '
                      'onecycle schedule warms up by itself (its first 30%); set it to 0')
  _check_divisible('batch_size', config.batch_size, num_devices)
  _check_divisible('eval_batch_size', config.eval_batch_size, num_devices)
  _check_divisible('batch_size', config.batch_size, process_count)
  return count


def check_benchmark(config) -> None:
  """Validates `config.benchmark` (--mode=benchmark)."""
  check_fields(config.benchmark, 'benchmark.')


def check_search(config) -> None:
  """Validates `config.search`, and config.model as the base of compound scaling; for a search
  (not a preview), what its trials need of the rest of the config."""
  s = config.search
  check_fields(s, 'search.')
  check_design(config.model)
  base = copy.deepcopy(config.model)
  base.max_params = 0  # The base of compound scaling may be over the budget.
  check_model(base)
  if s.preview:
    if s.scale == 'compound' and s.depth_coefficient == s.width_coefficient == 1:
      raise ConfigError('config.search.depth_coefficient and width_coefficient are both 1, so '
                        'compound scaling cannot change the design; raise one (EfficientNet '
                        'uses 1.2 and 1.1)')
    if s.scale == 'compound' and not config.model.max_params:
      raise ConfigError(f'config.model.max_params={config.model.max_params!r}: compound '
                        'scaling needs a budget, an integer > 0')
    return
  if not config.data.val_fraction:
    raise ConfigError('%s: a search ranks its trials on a validation split held out of the '
                      'training set; set it, e.g. config.data.val_fraction=0.1',
                      f'config.data.val_fraction={config.data.val_fraction!r}',  # As set: no flag.
                      arguments=('config.data.val_fraction',))
  least = 1 if s.pruner == 'none' else s.min_epochs
  if not float(config.num_epochs).is_integer() or config.num_epochs < least:
    raise ConfigError(f'config.num_epochs={config.num_epochs!r}: a search\'s trials train whole '
                      'epochs, reporting after each, up to config.num_epochs; it must be a whole '
                      f'number >= ' + (f'config.search.min_epochs={s.min_epochs}' if least > 1
                                       else '1'))
  if config.eval_every_epochs != 1:
    raise ConfigError(f'config.eval_every_epochs={config.eval_every_epochs}: a search\'s trials '
                      'report their validation metric after every epoch; set it to 1')
  if s.objective == 'val_loss' and s.label_smoothing:
    raise ConfigError('%s with %s: trials smoothed differently reach different losses at the '
                      'same accuracy, so the loss cannot rank them; set '
                      'config.search.objective=val_accuracy',
                      f'config.search.objective={s.objective!r}',  # As set: no flag.
                      f'config.search.label_smoothing={tuple(s.label_smoothing)}',
                      arguments=('config.search.objective',))
