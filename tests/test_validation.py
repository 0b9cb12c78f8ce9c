"""Bad designs and settings are refused with messages that name the value and what is allowed."""

import pytest

from configs import default
from resnet_jax import validation
from tests.conftest import tiny_config


def refusal(config, **kwargs) -> str:
  with pytest.raises(validation.ConfigError) as e:
    validation.check_config(config, num_devices=kwargs.get('num_devices', 1))
  return str(e.value)


def test_resnet18_widths_are_over_budget_and_both_numbers_are_named():
  config = default.get_config()
  config.model.blocks = (2, 2, 2, 2)
  config.model.channels = (64, 128, 256, 512)
  message = refusal(config)
  assert '11,173,962' in message and '5,000,000' in message


def test_budget_check_can_be_turned_off():
  config = default.get_config()
  config.model.blocks = (2, 2, 2, 2)
  config.model.channels = (64, 128, 256, 512)
  config.model.max_params = 0
  assert validation.check_model(config.model) == 11_173_962


@pytest.mark.parametrize('overrides,expected', [
    ({'model.channels': (4, 8, 16)}, 'one per residual layer, 2'),
    ({'model.blocks': ()}, 'config.model.blocks=()'),
    ({'model.blocks': (1, 0)}, 'positive integers'),
    ({'model.channels': (4, -8)}, 'positive integers'),
    ({'model.conv_kernel': 0}, 'config.model.conv_kernel=0'),
    ({'model.conv_kernel': (3, 3, 3)}, 'one per residual layer, 2'),
    ({'model.skip_kernel': (1,)}, 'config.model.skip_kernel=(1,)'),
    ({'model.pool': 17}, 'from 1 to 16'),
    ({'model.max_params': -1}, 'config.model.max_params=-1'),
    ({'batch_size': 0}, 'config.batch_size=0'),
    ({'num_epochs': 1.5}, 'config.num_epochs=1.5: must be an integer'),
    ({'optimizer.name': 'rmsprop'}, "'rmsprop': expected one of sgd, adam, adamw"),
    ({'optimizer.schedule': 'linear'}, 'expected one of constant, cosine, step, onecycle'),
    ({'optimizer.learning_rate': -0.1}, 'config.optimizer.learning_rate=-0.1'),
    ({'label_smoothing': 1.0}, 'config.label_smoothing=1.0'),
    ({'augment.cutout': 40}, 'config.augment.cutout=40'),
    ({'optimizer.name': 'adagrad'}, 'expected one of sgd, adam, adamw, adadelta'),
    ({'optimizer.schedule': 'onecycle', 'optimizer.warmup_epochs': 1.0}, 'warms up by itself'),
    ({'optimizer.step_factor': 1.0}, 'config.optimizer.step_factor=1.0'),
    ({'optimizer.step_epochs': 0}, 'config.optimizer.step_epochs=0'),
    ({'optimizer.clip_global_norm': -1.0}, 'config.optimizer.clip_global_norm=-1.0'),
    ({'optimizer.decay_all_params': 'yes'}, 'must be True or False'),
    ({'augment.cutout_holes': 0}, 'config.augment.cutout_holes=0'),
    ({'augment.perspective_distortion': 1.5}, 'distortion=1.5: must be a number in [0, 1]'),
    ({'augment.perspective_prob': -0.1}, 'config.augment.perspective_prob=-0.1'),
    ({'augment.perspective_repeats': 1.5}, 'perspective_repeats=1.5: must be an integer'),
    ({'augment.mixup_alpha': -1.0}, 'config.augment.mixup_alpha=-1.0'),
    ({'augment.cutmix_alpha': -1.0}, 'config.augment.cutmix_alpha=-1.0'),
    ({'model.dropblock_rate': 1.0}, 'config.model.dropblock_rate=1.0: must be a number in [0, 1)'),
    ({'model.dropblock_size': 17, 'model.dropblock_rate': 0.1}, 'from 1 to 16'),
    ({'model.dropout': 1.0}, 'config.model.dropout=1.0'),
    ({'ema_decay': 1.0}, 'config.ema_decay=1.0'),
    ({'data.val_fraction': 1.0}, 'config.data.val_fraction=1.0'),
    ({'early_stopping_patience': -1}, 'config.early_stopping_patience=-1'),
    ({'tta_flip': 1}, 'config.tta_flip=1: must be True or False'),
    ({'model.relu': 'gelu'}, "config.model.relu='gelu': expected one of auto, max, select"),
    ({'half_precision': 1}, 'config.half_precision=1: must be True or False'),
    ({'model.activation': 'swish'}, "config.model.activation='swish': expected one of relu, gelu"),
    ({'model.bn_scale': 0}, 'config.model.bn_scale=0: must be True or False'),
    ({'model.dirac_init': 'yes'}, "config.model.dirac_init='yes': must be True or False"),
    ({'optimizer.bias_lr_factor': 0.0}, 'config.optimizer.bias_lr_factor=0.0: must be a number'),
    ({'optimizer.lookahead_sync_period': 2.5}, 'lookahead_sync_period=2.5: must be an integer'),
    ({'optimizer.lookahead_step_size': 0.0}, 'config.optimizer.lookahead_step_size=0.0'),
    ({'benchmark.steps': 0}, 'config.benchmark.steps=0'),
    ({'benchmark.warmup_steps': -1}, 'config.benchmark.warmup_steps=-1'),
    ({'benchmark.pipeline_batches': 2.5}, 'config.benchmark.pipeline_batches=2.5'),
])
def test_malformed_configs_are_refused(overrides, expected):
  config = tiny_config()
  for key, value in overrides.items():
    section, _, field = key.rpartition('.')
    target = config[section] if section else config
    with target.ignore_type():
      target[field] = value
  assert expected in refusal(config)


def test_batch_must_divide_over_devices():
  assert 'divide evenly over the 4 devices' in refusal(tiny_config(batch_size=6), num_devices=4)
