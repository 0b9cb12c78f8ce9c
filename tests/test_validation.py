"""Bad designs and settings are refused with messages that name the value and what is allowed."""

import pytest
from absl import flags

from resnet_jax import defaults, validation
from resnet_jax.errors import ConfigError
from tests.helpers import command_line_config, tiny_config, unrefused


def refusal(config, **kwargs) -> str:
  with pytest.raises(ConfigError) as e:
    validation.check_config(config, num_devices=kwargs.get('num_devices', 1))
  return str(e.value)


def test_resnet18_widths_are_over_budget_and_both_numbers_are_named():
  config = defaults.get_config()
  config.model.blocks = (2, 2, 2, 2)
  config.model.channels = (64, 128, 256, 512)
  message = refusal(config)
  assert '11,173,962' in message and '5,000,000' in message


def test_budget_check_can_be_turned_off():
  config = defaults.get_config()
  config.model.blocks = (2, 2, 2, 2)
  config.model.channels = (64, 128, 256, 512)
  config.model.max_params = 0
  assert validation.check_model(config.model) == 11_173_962


MALFORMED = [  # (overrides, what the refusal says)
    (['--config.model.channels=4,8,16'], 'one per residual layer, 2'),
    (['--config.model.blocks=()'], 'config.model.blocks=()'),
    (['--config.model.blocks='], "config.model.blocks=('',): expected a non-empty list"),
    (['--config.model.blocks=1,0'], 'positive integers'),
    (['--config.model.channels=4,-8'], 'positive integers'),
    (['--config.model.conv_kernel=0'], 'config.model.conv_kernel=0'),
    (['--config.model.conv_kernel=3,3,3'], 'one per residual layer, 2'),
    (['--config.model.skip_kernel=1,'], 'config.model.skip_kernel=(1,)'),
    (['--config.model.pool=17'], 'from 1 to 16'),
    (['--config.model.max_params=-1'], 'config.model.max_params=-1'),
    (['--config.batch_size=0'], 'config.batch_size=0'),
    (['--config.optimizer.name=rmsprop'], "'rmsprop': expected one of sgd, adam, adamw"),
    (['--config.optimizer.schedule=linear'], 'expected one of constant, cosine, step, onecycle'),
    (['--config.optimizer.learning_rate=-0.1'], 'config.optimizer.learning_rate=-0.1'),
    (['--config.label_smoothing=1'], 'config.label_smoothing=1.0'),
    (['--config.augment.cutout=40'], 'config.augment.cutout=40'),
    (['--config.optimizer.name=adagrad'], 'expected one of sgd, adam, adamw, adadelta'),
    (['--config.optimizer.schedule=onecycle', '--config.optimizer.warmup_epochs=1'],
     'warms up by itself'),
    (['--config.optimizer.step_factor=1'], 'config.optimizer.step_factor=1.0'),
    (['--config.optimizer.step_epochs=0'], 'config.optimizer.step_epochs=0'),
    (['--config.optimizer.clip_global_norm=-1'], 'config.optimizer.clip_global_norm=-1.0'),
    (['--config.augment.cutout_holes=0'], 'config.augment.cutout_holes=0'),
    (['--config.augment.perspective_distortion=1.5'], 'distortion=1.5: must be a number in [0, 1]'),
    (['--config.augment.perspective_prob=-0.1'], 'config.augment.perspective_prob=-0.1'),
    (['--config.augment.mixup_alpha=-1'], 'config.augment.mixup_alpha=-1.0'),
    (['--config.augment.cutmix_alpha=-1'], 'config.augment.cutmix_alpha=-1.0'),
    (['--config.model.dropblock_rate=1'],
     'config.model.dropblock_rate=1.0: must be a number in [0, 1)'),
    (['--config.model.dropblock_size=17', '--config.model.dropblock_rate=0.1'], 'from 1 to 16'),
    (['--config.model.dropout=1'], 'config.model.dropout=1.0'),
    (['--config.ema_decay=1'], 'config.ema_decay=1.0'),
    (['--config.data.val_fraction=1'], 'config.data.val_fraction=1.0'),
    (['--config.early_stopping_patience=-1'], 'config.early_stopping_patience=-1'),
    (['--config.model.relu=gelu'], "config.model.relu='gelu': expected one of auto, max, select"),
    (['--config.model.activation=swish'],
     "config.model.activation='swish': expected one of relu, gelu"),
    (['--config.optimizer.bias_lr_factor=0'], 'config.optimizer.bias_lr_factor=0.0: must be a number'),
    (['--config.optimizer.lookahead_step_size=0'], 'config.optimizer.lookahead_step_size=0.0'),
    (['--config.num_epochs=0'], 'config.num_epochs=0.0: must be a number > 0'),
    (['--config.steps_per_dispatch=-1'], 'config.steps_per_dispatch=-1'),
    (['--config.data.pipeline=gpu'], "config.data.pipeline='gpu': expected one of auto, device, host"),
    (['--config.data.pipeline=device', '--config.augment.perspective_distortion=0.5'],
     'runs only in the host pipeline'),
    (['--config.augment.crop_fill=wrap'], "config.augment.crop_fill='wrap': expected one of zero"),
    (['--config.augment.crop_fill=reflect', '--config.augment.crop_padding=32'],
     'config.augment.crop_padding=32: reflected padding'),
    (['--config.tta_shift=32'], 'config.tta_shift=32'),
    (['--config.augment.alternating_flip=True', '--config.data.pipeline=host'],
     'alternating_flip=True runs in the device pipeline only'),
]


def test_malformed_configs_are_refused():
  """One table-driven check; each case whose refusal is missing or other is named."""
  failures = unrefused(MALFORMED, lambda overrides: validation.check_config(
      command_line_config(*overrides).config, num_devices=1))
  assert not failures, '\n'.join(failures)


def test_values_of_the_wrong_type_are_refused_by_the_command_line():
  failures = []
  for override in ['--config.log_every_steps=1.5', '--config.optimizer.decay_all_params=yes',
                   '--config.tta_flip=2', '--config.half_precision=maybe',
                   '--config.augment.perspective_repeats=1.5',
                   '--config.benchmark.pipeline_batches=2.5', '--config.search.rows=2.5',
                   '--config.model.dirac_init=yes', '--config.model.whitening=maybe',
                   '--config.optimizer.lookahead_sync_period=2.5']:
    try:
      command_line_config(override)
      failures.append(f'{override}: accepted')
    except flags.Error as e:
      if override not in str(e):
        failures.append(f'{override}: {e} does not name it')
  assert not failures, '\n'.join(failures)


def test_a_config_file_that_blanks_a_field_is_refused(tmp_path):
  path = tmp_path / 'blank.py'
  for field, expected in [('tta_flip', 'config.tta_flip=None: must be True or False'),
                          ('num_epochs', 'config.num_epochs=None: must be a number > 0'),
                          ('seed', 'config.seed=None: must be an integer')]:
    path.write_text('from configs import tiny\n\n\ndef get_config():\n'
                    f'  config = tiny.get_config()\n  config.{field} = None\n  return config\n')
    assert expected in refusal(command_line_config(config=str(path)).config)


def test_batch_must_divide_over_devices():
  assert 'divide evenly over the 4 devices' in refusal(tiny_config(batch_size=6), num_devices=4)
