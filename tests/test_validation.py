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
    ({'optimizer.schedule': 'step'}, "expected one of constant, cosine"),
    ({'optimizer.learning_rate': -0.1}, 'config.optimizer.learning_rate=-0.1'),
    ({'label_smoothing': 1.0}, 'config.label_smoothing=1.0'),
    ({'augment.cutout': 40}, 'config.augment.cutout=40'),
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
