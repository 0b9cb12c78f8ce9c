"""Every technique switched on at once, end to end; and the source recipes' configs."""

import importlib
import json
import os

import jax
import numpy as np
import optax
import pytest
import tensorflow_datasets as tfds

from configs import resnet24
from resnet_jax import early_stopping, parallel, plots, train, validation
from tests.conftest import tiny_config


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
  scalars = plots.read_scalars(workdir)
  assert scalars['epoch'] == {3: 1, 6: 2}
  for tag in ('val_loss', 'test_loss', 'test_ema_loss', 'val_accuracy', 'train_learning_rate'):
    assert set(scalars[tag]) >= {6}, tag
  best_epoch = early_stopping.EarlyStopping(workdir, 5).best_epoch
  assert best_epoch in (1, 2)
  assert report['step'] == 3 * best_epoch  # The reports are of the best checkpoint.

  with tfds.testing.mock_data(num_examples=32):
    assert train.evaluate_checkpoint(config, workdir) == report


def test_speed_record_techniques_train_checkpoint_and_resume(tmp_path):
  """Lookahead's fast and slow weights, GELU, dirac init, frozen BatchNorm scale, bias lr factor:
  checkpointed and resumed into the very same run; the reports are of the slow weights."""
  config = tiny_config(num_epochs=1, **{
      'optimizer.schedule': 'constant', 'optimizer.nesterov': True,
      'optimizer.lookahead_sync_period': 3, 'optimizer.bias_lr_factor': 8.0,
      'optimizer.decay_all_params': True, 'model.activation': 'gelu', 'model.dirac_init': True,
      'model.bn_scale': False})
  with tfds.testing.mock_data(num_examples=32):
    train.train_and_evaluate(config, str(tmp_path / 'split'))
    config.num_epochs = 2
    resumed = train.train_and_evaluate(config, str(tmp_path / 'split'))
    straight = train.train_and_evaluate(config, str(tmp_path / 'straight'))
    assert train.evaluate_checkpoint(config, str(tmp_path / 'split'))['step'] == 8
  assert isinstance(resumed.params, optax.LookaheadParams)
  assert not np.allclose(resumed.params.fast['head']['kernel'],
                         resumed.params.slow['head']['kernel'])
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
               (resumed.params, resumed.batch_stats), (straight.params, straight.batch_stats))
  # Evaluation sees only the slow weights: zeroing the fast ones changes nothing.
  with tfds.testing.mock_data(num_examples=32):
    trainer = train.Trainer(config, parallel.make_mesh(), with_train_data=False)
    losses = [train.eval_summary(trainer.evaluate(resumed.replace(
        params=resumed.params._replace(fast=fast))))['loss']
        for fast in (resumed.params.fast, jax.tree.map(np.zeros_like, resumed.params.fast))]
  assert losses[0] == losses[1]


CONFIGS = ['resnet24', 'resnet14_c128', 'resnet24_c50', 'resnet18_c32', 'resnet12']


@pytest.mark.parametrize('name,preset', [(name, '') for name in CONFIGS + ['fast']] +
                         [('resnet24', preset) for preset in resnet24.PRESETS])
def test_source_recipes_are_valid(name, preset):
  module = importlib.import_module(f'configs.{name}')
  config = module.get_config(preset) if preset else module.get_config()
  validation.check_config(config, num_devices=1)
  assert f'python launch.py --config configs/{name}.py' in module.__doc__
  if preset:
    assert f'  {preset} ' in module.__doc__


def test_source_recipes_switch_on_what_their_sources_used():
  c128 = importlib.import_module('configs.resnet14_c128').get_config()
  assert c128.model.dropblock_rate > 0 and c128.model.dropout > 0
  assert c128.optimizer.name == 'adam'
  c50 = importlib.import_module('configs.resnet24_c50').get_config()
  assert c50.augment.perspective_repeats == 2 and c50.augment.perspective_distortion > 0
  assert c50.augment.crop_padding and c50.augment.flip and c50.optimizer.name == 'adam'
  assert c50.optimizer.schedule == 'cosine' and c50.early_stopping_patience > 0
  assert resnet24.get_config().augment.cutout == 8
  assert resnet24.get_config('mixup').augment.mixup_alpha > 0
  assert resnet24.get_config('cutmix').augment.cutmix_alpha > 0
  assert resnet24.get_config('adadelta').optimizer.name == 'adadelta'
  assert resnet24.get_config('adadelta_clip').optimizer.clip_global_norm > 0
  for name in ('resnet18_c32', 'resnet12'):
    config = importlib.import_module(f'configs.{name}').get_config()
    assert config.optimizer.schedule == 'step' and config.optimizer.weight_decay > 0
  with pytest.raises(ValueError, match='unknown variant'):
    resnet24.get_config('mixpu')
