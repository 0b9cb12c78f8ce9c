"""Every technique switched on at once, end to end; and the source recipes' configs."""

import importlib
import json
import os
import shlex

import jax
import numpy as np
import optax
import pytest
import tensorflow_datasets as tfds

from configs import resnet24
from resnet_jax import (cifar10, data_sources, early_stopping, event_files, models, parallel,
                        train, validation)
from tests.conftest import command_line_config, tiny_config


@pytest.mark.slow
def test_every_technique_end_to_end(tmp_path):
  config = tiny_config(num_epochs=2, **{
      'data.val_fraction': 0.25, 'augment.cutout': 4, 'augment.cutout_holes': 2,
      'augment.perspective_distortion': 0.5, 'augment.perspective_repeats': 2,
      'augment.mixup_alpha': 0.4, 'augment.cutmix_alpha': 1.0, 'model.dropblock_rate': 0.1,
      'model.dropout': 0.2, 'optimizer.name': 'adamw', 'optimizer.clip_global_norm': 1.0,
      'optimizer.schedule': 'onecycle', 'label_smoothing': 0.1, 'ema_decay': 0.5,
      'early_stopping_patience': 5, 'tta_flip': True})
  workdir = str(tmp_path)
  with tfds.testing.mock_data(num_examples=32):
    state = train.train_and_evaluate(config, workdir)
  assert int(state.step) == 6  # 24 training images (8 held out) / batch 8, 2 epochs.
  assert state.ema is not None
  assert not np.allclose(state.ema['params']['head']['kernel'], state.params['head']['kernel'])

  files = set(os.listdir(workdir))
  assert {'report.json', 'report.md', 'report_ema.json', 'report_ema.md', 'curves_loss.png',
          'curves_accuracy.png', 'curves_learning_rate.png', 'checkpoints_best'} <= files
  report = json.loads((tmp_path / 'report.json').read_text())
  assert report['num_images'] == 32 and np.sum(report['confusion_matrix']) == 32
  scalars = event_files.read_scalars(workdir)
  assert scalars['epoch'] == {3: 1, 6: 2}
  (startup_step, startup_secs), = scalars['startup_seconds'].items()  # Since this process began.
  assert startup_step == 1 and startup_secs > 0  # CPU: one step per dispatch.
  for tag in ('val_loss', 'test_loss', 'test_ema_loss', 'val_accuracy', 'train_learning_rate'):
    assert set(scalars[tag]) >= {6}, tag
  best_epoch = early_stopping.EarlyStopping(workdir, 5).best_epoch
  assert best_epoch in (1, 2)
  assert report['step'] == 3 * best_epoch  # The reports are of the best checkpoint.

  with tfds.testing.mock_data(num_examples=32):
    assert train.evaluate_checkpoint(config, workdir)['test'] == report


@pytest.mark.slow
def test_speed_record_techniques_train_checkpoint_and_resume(tmp_path):
  """Lookahead's fast and slow weights, GELU, dirac init, frozen BatchNorm scale, bias lr factor,
  whitening stem: checkpointed and resumed into the very same run; the reports are of the slow
  weights; the whitening kernel is the training images' and is never trained."""
  config = tiny_config(num_epochs=1, **{
      'optimizer.schedule': 'constant', 'optimizer.nesterov': True,
      'optimizer.lookahead_sync_period': 3, 'optimizer.bias_lr_factor': 8.0,
      'optimizer.decay_all_params': True, 'model.activation': 'gelu', 'model.dirac_init': True,
      'model.bn_scale': False, 'model.whitening': True})
  with tfds.testing.mock_data(num_examples=32):
    train_images, _ = data_sources.load_split(config.data, 'train')
    train.train_and_evaluate(config, str(tmp_path / 'split'))
    config.num_epochs = 2
    resumed = train.train_and_evaluate(config, str(tmp_path / 'split'))
    straight = train.train_and_evaluate(config, str(tmp_path / 'straight'))
    # Made without training images, so with a zero whitening kernel until the restore.
    evaluated = train.evaluate_checkpoint(config, str(tmp_path / 'split'))['test']
  assert evaluated == json.loads((tmp_path / 'split' / 'report.json').read_text())
  assert evaluated['step'] == 8
  assert isinstance(resumed.params, optax.LookaheadParams)
  assert not np.allclose(resumed.params.fast['head']['kernel'],
                         resumed.params.slow['head']['kernel'])
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
               (resumed.params, resumed.batch_stats), (straight.params, straight.batch_stats))
  np.testing.assert_allclose(
      resumed.batch_stats['stem_whitening']['kernel'],
      models.patch_whitening_kernel(cifar10.normalize(train_images)), rtol=1e-6)
  assert np.abs(resumed.params.slow['stem_whitening']['bias']).max() > 0
  # Evaluation sees only the slow weights: zeroing the fast ones changes nothing.
  with tfds.testing.mock_data(num_examples=32):
    trainer = train.Trainer(config, parallel.make_mesh(), with_train_data=False)
    losses = [train.eval_summary(trainer.evaluate(resumed.replace(
        params=resumed.params._replace(fast=fast))))['loss']
        for fast in (resumed.params.fast, jax.tree.map(np.zeros_like, resumed.params.fast))]
  assert losses[0] == losses[1]


CONFIGS = ['default', 'tiny', 'resnet24', 'resnet14_c128', 'resnet24_c50', 'resnet18_c32',
           'resnet12', 'search', 'fast']


def documented_commands(name):
  """The `python launch.py ...` commands in a config's docstring, as argument lists."""
  text = importlib.import_module(f'configs.{name}').__doc__
  return [shlex.split(line.split('python launch.py', 1)[1]) for line in text.splitlines()
          if 'python launch.py' in line]


@pytest.mark.parametrize('name', CONFIGS)
def test_every_documented_command_gives_a_valid_config(name):
  commands = documented_commands(name)
  assert commands and all(args[:2] == ['--config', f'configs/{name}.py'] or
                          args[1].startswith(f'configs/{name}.py:') for args in commands)
  for args in commands:
    parsed = command_line_config(*args[2:], config=args[1])
    if parsed.mode == 'search':
      validation.check_search(parsed.config)
    else:
      validation.check_config(parsed.config, num_devices=1)


@pytest.mark.parametrize('preset', resnet24.PRESETS)
def test_every_variant_parses_validates_and_changes_the_recipe(preset):
  config = command_line_config(config=f'configs/resnet24.py:{preset}').config
  validation.check_config(config, num_devices=1)
  base = command_line_config(config='configs/resnet24.py').config
  assert config.model == base.model and config != base
