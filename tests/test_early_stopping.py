"""Early stopping on a scripted loss sequence: when it stops, what it keeps, and resuming."""

import json

import numpy as np
import optax
import pytest
import tensorflow_datasets as tfds

from resnet_jax import early_stopping, plots, steps, train
from tests.conftest import tiny_config

LOSSES = [1.0, 0.8, 0.9, 0.7, 0.75, 0.71, 0.72, 0.6]  # Epochs 1..8; lowest so far at 1, 2, 4.


def state_at(epoch):
  """A stand-in train state whose weights say which epoch it is from."""
  return steps.TrainState.create(apply_fn=None, params={'w': np.full(2, float(epoch))},
                                 batch_stats={}, tx=optax.sgd(0.1)).replace(step=10 * epoch)


@pytest.mark.parametrize('patience,stop_epoch', [(1, 3), (2, 6), (3, 7), (4, None)])
def test_stops_after_patience_epochs_without_improvement(tmp_path, patience, stop_epoch):
  stopper = early_stopping.EarlyStopping(str(tmp_path), patience)
  stopped_at = None
  for epoch, loss in enumerate(LOSSES, start=1):
    if stopper.update(epoch, loss, state_at(epoch)):
      stopped_at = epoch
      break
  assert stopped_at == stop_epoch
  best_epoch = 8 if stop_epoch is None else {3: 2, 6: 4, 7: 4}[stop_epoch]
  best = stopper.best_state(state_at(0))
  assert int(best.step) == 10 * best_epoch and best.params['w'][0] == best_epoch

  # A run resumed from its last checkpoint knows the best so far, and whether it had stopped.
  resumed = early_stopping.EarlyStopping(str(tmp_path), patience)
  assert (resumed.best_epoch, resumed.best_loss) == (best_epoch, LOSSES[best_epoch - 1])
  assert resumed.stopped(stopped_at or 8) == (stop_epoch is not None)


@pytest.mark.slow
def test_early_stopping_holds_out_validation_and_never_watches_the_test_set(tmp_path, capsys):
  """Patience without a validation split: 10% of the training set is held out, the set-up line
  says so, the validation loss chooses the checkpoint and the report says which split chose it."""
  config = tiny_config(num_epochs=3, early_stopping_patience=1)
  with tfds.testing.mock_data(num_examples=40):
    train.train_and_evaluate(config, str(tmp_path))
  setup = capsys.readouterr().out.splitlines()[0]
  assert ('36 train + 4 validation images (held out for early stopping: config.data.val_fraction '
          'is 0, so 10% by default)') in setup
  scalars = plots.read_scalars(str(tmp_path))
  assert 'val_loss' in scalars and 'test_loss' in scalars
  best_epoch = early_stopping.EarlyStopping(str(tmp_path), 1).best_epoch
  val_losses = {step // 4: loss for step, loss in scalars['val_loss'].items()}  # 4 steps/epoch.
  assert best_epoch == min(val_losses, key=val_losses.get)  # The validation loss chose it.
  report = json.loads((tmp_path / 'report.json').read_text())
  selected_by = (f'the checkpoint with the lowest validation loss (after epoch {best_epoch}), '
                 'kept by early stopping')
  assert report['selected_by'] == selected_by and report['step'] == 4 * best_epoch
  assert f'Weights of step {4 * best_epoch}: {selected_by}.' in (tmp_path / 'report.md').read_text()
