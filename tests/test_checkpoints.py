"""Orbax checkpoints of the train state, without training: a saved state comes back exactly,
and a checkpoint of another model is refused, naming the difference."""

import jax
import numpy as np
import optax
import pytest

from resnet_jax import checkpoints, models, parallel, steps
from resnet_jax.errors import ConfigError
from tests.conftest import random_variables, tiny_config


def initial_state(**overrides):
  """A train state of tiny_config's model (numpy-drawn weights: nothing to compile)."""
  model = models.create_model(tiny_config(**overrides).model)
  variables = random_variables(model)
  return parallel.replicate(steps.TrainState.create(
      apply_fn=model.apply, params=variables['params'], batch_stats=variables['batch_stats'],
      tx=optax.sgd(0.1, momentum=0.9)), parallel.make_mesh())


def test_saved_state_restores_exactly_and_another_models_is_refused(tmp_path):
  state = initial_state()
  manager = checkpoints.create_manager(str(tmp_path), keep=2)
  assert checkpoints.restore_latest(manager, state) is None  # Nothing saved yet.
  saved = state.replace(step=3, params=jax.tree.map(lambda x: x + 1, state.params))
  checkpoints.save(manager, saved)
  manager.wait_until_finished()
  assert sorted(p.name for p in (tmp_path / 'checkpoints').iterdir()) == ['3']
  restored = checkpoints.restore_latest(manager, state)
  assert int(restored.step) == 3
  jax.tree.map(lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)),
               (restored.params, restored.batch_stats, restored.opt_state),
               (saved.params, saved.batch_stats, saved.opt_state))
  with pytest.raises(ConfigError, match='holds another model: batch_stats/layer2_block1'):
    checkpoints.restore_latest(manager, initial_state(**{'model.channels': (4, 16)}))
  manager.close()
