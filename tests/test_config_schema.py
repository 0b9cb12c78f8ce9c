"""Validation follows the config's schema: one rule per field of resnet_jax/defaults.py, the mode
sections checked by their modes only, cadences checked alike, and configs written by older
versions loading without the fields that have gone."""

import json
import os
import subprocess
import sys

import pytest

from resnet_jax import benchmark, defaults, run_config, validation
from resnet_jax.errors import ConfigError
from tests.conftest import ROOT, tiny_config


def field_names(tree: dict, prefix: str = '') -> set[str]:
  names = set()
  for name, value in tree.items():
    if isinstance(value, dict):
      names |= field_names(value, f'{prefix}{name}.')
    else:
      names.add(f'{prefix}{name}')
  return names


def test_every_field_has_exactly_one_rule_and_every_rule_names_a_field():
  fields = field_names(defaults.get_config().to_dict())
  assert fields - set(validation.RULES) == set(), 'fields without a rule'
  assert set(validation.RULES) - fields == set(), 'rules of no field'


def test_every_rule_accepts_the_default_and_refuses_a_blank():
  """One table-driven check over every rule; each failing rule is named."""
  failures = []
  for name, rule in sorted(validation.RULES.items()):
    default = defaults.get_config()
    for part in name.split('.'):
      default = default[part]
    try:
      rule.check(name, default)
    except ConfigError as e:
      failures.append(f'{name}: refuses its default ({e})')
    try:
      rule.check(name, None)
      failures.append(f'{name}: accepts None')
    except ConfigError as e:
      if not str(e).startswith(f'config.{name}=None: '):
        failures.append(f'{name}: refuses None as {e}')
  assert not failures, '\n'.join(failures)


def test_a_field_that_configs_default_lacks_is_refused():
  config = tiny_config()
  config.model.num_classes = 10  # Gone: the model always has CIFAR-10's classes.
  with pytest.raises(ConfigError, match=r'config.model.num_classes is not a config field'):
    validation.check_config(config, num_devices=1)


@pytest.mark.parametrize('field,value,expected', [
    ('benchmark.steps', 0, 'config.benchmark.steps=0: must be an integer > 0'),
    ('benchmark.warmup_steps', -1, 'config.benchmark.warmup_steps=-1: must be an integer >= 0'),
    ('benchmark.loop_seconds', 0.0, 'config.benchmark.loop_seconds=0.0: must be a number > 0'),
])
def test_benchmark_fields_are_checked_by_the_benchmark_mode_only(field, value, expected):
  config = tiny_config(**{field: value})
  validation.check_config(config, num_devices=1)  # Training does not read them.
  with pytest.raises(ConfigError) as e:
    validation.check_benchmark(config)
  assert str(e.value) == expected


def test_the_benchmark_mode_refuses_a_bad_benchmark_field_before_any_work(tmp_path):
  with pytest.raises(ConfigError, match='^config.benchmark.steps=0: '):
    benchmark.run(tiny_config(**{'benchmark.steps': 0}), str(tmp_path))
  assert not os.listdir(tmp_path)


def test_search_fields_are_checked_by_the_search_mode_only():
  config = tiny_config(**{'search.rows': -1})
  validation.check_config(config, num_devices=1)
  with pytest.raises(ConfigError, match=r'^config.search.rows=-1: must be an integer >= 0$'):
    validation.check_search(config)


@pytest.mark.parametrize('field,value,expected', [
    ('log_every_steps', 0, 'a whole number of steps > 0'),
    ('eval_every_epochs', 0, 'a whole number of epochs > 0'),
    ('checkpoint_every_epochs', -1, 'a whole number of epochs > 0'),
    ('checkpoint_every_steps', -1, 'a whole number of steps >= 0 (0 = off)'),
])
def test_cadences_are_checked_alike_each_in_its_unit(field, value, expected):
  with pytest.raises(ConfigError) as e:
    validation.check_config(tiny_config(**{field: value}), num_devices=1)
  assert str(e.value) == f'config.{field}={value}: must be {expected}'


def test_an_older_config_json_drops_the_fields_that_have_gone(tmp_path, caplog):
  config = defaults.get_config()
  config.model.channels = (8, 16, 32)
  saved = json.loads(config.to_json())
  saved['model']['num_classes'] = 10  # Written while the field existed.
  saved['old_section'] = {'knob': 1}
  (tmp_path / 'config.json').write_text(json.dumps(saved))
  loaded = run_config.load(str(tmp_path), defaults=defaults.get_config())
  assert loaded.to_dict() == config.to_dict() and loaded.is_locked
  warnings = [r.getMessage() for r in caplog.records if r.levelname == 'WARNING']
  assert [w.split(' in ')[0] for w in warnings] == ['Ignoring config.model.num_classes=10',
                                                    "Ignoring config.old_section={'knob': 1}"]
  validation.check_config(loaded, num_devices=1)


@pytest.mark.slow
def test_a_num_classes_override_is_a_one_line_unknown_field_error():
  proc = subprocess.run(
      [sys.executable, 'launch.py', '--config', 'configs/tiny.py', '--mode=summary',
       '--config.model.num_classes=10'],
      cwd=ROOT, env=os.environ | {'JAX_PLATFORMS': 'cpu'}, capture_output=True, text=True,
      timeout=120)
  assert proc.returncode == 2
  assert proc.stderr.splitlines() == ["error: unknown config field 'num_classes'"]
