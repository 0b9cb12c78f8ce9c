"""Early stopping on a scripted loss sequence: when it stops, what it keeps, and resuming (what it
holds out and chooses in a real run is in test_trained.py)."""

import numpy as np
import optax
import pytest

from resnet_jax import early_stopping, steps

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
