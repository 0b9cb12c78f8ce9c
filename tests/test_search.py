"""The design space: exact counts, the budget respected, compound scaling, the preview by size,
and the search settings' checks."""

import importlib

import jax
import ml_collections
import numpy as np
import pytest

from resnet_jax import data_sources, defaults, designs, models, search, study, validation
from resnet_jax.errors import ConfigError
from tests.helpers import command_line_config, tiny_config, unrefused, write_cifar_python


def search_config(**overrides):
  config = defaults.get_config()
  config.update_from_flattened_dict(overrides)
  return config


def model_count(design: designs.Design, config) -> int:
  return models.trainable_params(models.create_model(design.apply(config).model))


@pytest.mark.slow  # Builds and counts some 150 models.
def test_grid_counts_are_the_models_own_and_the_budget_holds():
  # Per-layer kernels, one to three layers, blocks on both sides of the two-block twin, pools.
  config = search_config(**{
      'search.num_layers': (1, 2, 3), 'search.blocks': (1, 3), 'search.channels': (4,),
      'search.conv_kernel': (3, 5), 'search.skip_kernel': (1,), 'search.pool': (0, 16),
      'model.max_params': 0})
  everything = search.grid(config.search, config.model)
  assert len(everything) == search.num_grid_designs(config.search) == 8 + 32 + 64
  for count, design in everything:
    assert count == model_count(design, config), design

  for options in ({'model.bn_scale': False}, {'model.whitening': True}):  # Stem and norms.
    config.update_from_flattened_dict(options)
    for count, design in search.grid(config.search, config.model)[::7]:
      assert count == model_count(design, config), (options, design)
  config.model.update(bn_scale=True, whitening=False)
  config.model.max_params = 6000
  kept = search.grid(config.search, config.model)
  assert kept == [(count, design) for count, design in everything if count <= 6000]
  assert 0 < len(kept) < len(everything)


def test_grid_size_is_bounded_before_counting():
  config = search_config(**{'search.blocks': (1, 2, 3, 4, 5), 'search.conv_kernel': (3, 5),
                            'search.max_designs': 1000})  # N = 2, 3, 4 and two widths.
  with pytest.raises(ConfigError, match='give 22,200 designs, more than'):
    search.grid(config.search, config.model)


def test_grid_of_no_designs_is_refused():
  config = search_config(**{'search.num_layers': (3, 4), 'search.pool': (16,)})
  with pytest.raises(ConfigError, match=r'config.search.pool=\(16,\): no pool size'):
    search.grid(config.search, config.model)


def test_preview_lists_the_largest_designs_within_budget():
  config = search_config(**{'search.preview': True, 'search.rows': 5,
                            'model.max_params': 100_000, 'search.channels': (8, 16)})
  title, rows = search.preview(config)
  assert len(rows) == 5
  params = [row['params'] for row in rows]
  assert params == sorted(params, reverse=True) and params[0] <= 100_000
  largest = max(count for count, _ in search.grid(config.search, config.model))
  assert params[0] == largest
  for row in rows:
    assert row['params'] == model_count(row['design'], config)
    assert row['flops'] > 2 * row['params']  # Every weight is used at least once per image.
  out = search.preview_text(title, rows, 'configs/default.py')
  assert 'within 100,000 parameters' in out and f'{params[0]:,}' in out
  assert out.splitlines()[-1] == ('Train the first: python launch.py --config configs/default.py '
                                  f'--workdir runs/{rows[0]["design"].name} '
                                  f'{rows[0]["design"].overrides()}')


@pytest.mark.parametrize('name,depth', [('resnet24', 24), ('resnet14_c128', 14),
                                        ('resnet24_c50', 24), ('resnet12', 12)])
def test_depth_counts_as_the_source_designs_are_named(name, depth):
  assert designs.Design.of(importlib.import_module(f'configs.{name}').get_config().model
                          ).depth == depth


def test_flops_are_xlas_count_of_the_forward_pass():
  model = models.ResNet(blocks=(1,), channels=(4,), conv_kernels=(3,), skip_kernels=(1,))
  macs = 32 * 32 * 4 * 27 + 2 * 32 * 32 * 4 * 36 + 4 * 10  # Stem, two block convs, head.
  assert 2 * macs <= models.flops_per_image(model) <= 1.1 * 2 * macs  # + BN, ReLU, pooling.


@pytest.mark.parametrize('blocks,channels', [((2, 2, 2, 2), (64, 128, 256, 512)),  # Down.
                                             ((1, 1), (16, 32))])  # Up.
def test_compound_scaling_stops_at_the_last_step_within_budget(blocks, channels):
  config = search_config(**{'search.scale': 'compound', 'search.rows': 3,
                            'model.blocks': blocks, 'model.channels': channels})
  rows = search.compound(config.search, config.model)
  count, design, phi = rows[0]
  assert count == model_count(design, config) <= 5_000_000
  base = designs.Design.of(config.model)
  assert design == search.scaled(base, config.search, phi)
  over = search.scaled(base, config.search, phi + config.search.phi_step)
  assert model_count(over, config) > 5_000_000
  assert (phi < 0) == (blocks == (2, 2, 2, 2))
  assert [r[0] for r in rows] == sorted([r[0] for r in rows], reverse=True)
  assert len({r[1] for r in rows}) == len(rows) == 3


def test_train_fraction_is_a_leading_subset(tmp_path):
  data = ml_collections.ConfigDict({'dir': str(write_cifar_python(tmp_path, 50, 10))})
  images, labels = data_sources.load_split(data, 'train')
  part, part_labels = data_sources.load_split(data, 'train', fraction=0.3)
  np.testing.assert_array_equal(part, images[:15])
  np.testing.assert_array_equal(part_labels, labels[:15])


BAD_SEARCH_SETTINGS = [  # (overrides, what the refusal says)
    (['--config.search.scale=random'],
     "config.search.scale='random': expected one of grid, compound"),
    (['--config.search.blocks=0,1'], 'config.search.blocks=(0, 1): expected a non-empty list'),
    (['--config.search.channels=()'], 'config.search.channels=()'),
    (['--config.search.pool=-1'],
     'config.search.pool=(-1,): expected a non-empty list of integers'),
    (['--config.search.max_designs=0'], 'config.search.max_designs=0: must be an integer > 0'),
    (['--config.search.depth_coefficient=0.9'], 'config.search.depth_coefficient=0.9: must be'),
    (['--config.search.preview=True', '--config.search.scale=compound',
      '--config.search.depth_coefficient=1', '--config.search.width_coefficient=1'], 'both 1'),
    (['--config.search.phi_step=0'], 'config.search.phi_step=0'),
    (['--config.search.preview=True', '--config.search.scale=compound',
      '--config.model.max_params=0'], 'compound scaling needs a budget'),
    (['--config.search.learning_rate=0.1'], 'config.search.learning_rate=(0.1,): expected () '
     '(not searched) or two numbers lo,hi with lo < hi, each > 0'),
    (['--config.search.weight_decay=1e-3,1e-4'], 'config.search.weight_decay=(0.001, 0.0001)'),
    (['--config.search.label_smoothing=0,1'], 'each in [0, 1)'),
    (['--config.search.trials=0'], 'config.search.trials=0: must be an integer > 0'),
    (['--config.search.pruner=median'], 'expected one of hyperband, halving, none'),
    (['--config.search.objective=test_accuracy'], 'expected one of val_accuracy, val_loss'),
    (['--config.search.reduction_factor=1'], 'must be an integer >= 2'),
    ([], 'config.data.val_fraction=0.0: a search ranks its trials on a validation split'),
    (['--config.data.val_fraction=0.1', '--config.num_epochs=2.5'],
     'config.num_epochs=2.5: a search\'s trials train whole epochs'),
    (['--config.data.val_fraction=0.1', '--config.num_epochs=2', '--config.search.min_epochs=3'],
     'must be a whole number >= config.search.min_epochs=3'),
    (['--config.data.val_fraction=0.1', '--config.eval_every_epochs=2'],
     'config.eval_every_epochs=2: a search\'s trials report'),
    (['--config.model.channels=4'], 'config.model.channels=(4,) has 1 entries'),
    (['--config.data.val_fraction=0.1', '--config.search.label_smoothing=0,0.2'],
     "config.search.objective='val_loss' with config.search.label_smoothing=(0, 0.2): trials "
     'smoothed differently'),
]


def test_bad_search_settings_are_refused():
  """One table-driven check; each case accepted, or refused in other words, is named."""
  failures = unrefused(BAD_SEARCH_SETTINGS, lambda overrides: validation.check_search(
      command_line_config(*overrides, config='configs/default.py').config))
  assert not failures, '\n'.join(failures)


def test_a_search_needs_a_workdir_and_a_sane_fraction():
  config = search_config(**{'data.val_fraction': 0.1})
  with pytest.raises(ConfigError, match='^workdir is required for a search') as refused:
    study.run(config, workdir=None)
  assert refused.value.command_line().startswith('--workdir is required for a search')
  config = tiny_config(**{'data.train_fraction': 0.0})
  with pytest.raises(ConfigError, match='config.data.train_fraction=0.0'):
    validation.check_config(config, num_devices=jax.device_count())
