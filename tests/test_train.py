"""Train steps: mixed precision, and a chunk of steps against the steps one by one (a run's
resume is tested in test_resume.py and test_recipes.py, its evaluation in test_recipes.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from resnet_jax import parallel, steps
from tests.helpers import tiny_config


def params_of(state):
  return jax.tree.map(np.asarray, (state.params, state.batch_stats))


def built_steps(config, mesh, steps_per_epoch=10):
  return steps.build(config, mesh, steps_per_epoch=steps_per_epoch,
                     num_steps=steps_per_epoch * config.num_epochs)


def random_batch(mesh, size=8, seed=0):
  rng = np.random.default_rng(seed)
  return parallel.shard_batch({'image': rng.normal(size=(size, 32, 32, 3)).astype(np.float32),
                               'label': rng.integers(0, 10, size).astype(np.int32)}, mesh)


@pytest.mark.slow  # Compiles and runs train steps.
def test_half_precision_computes_in_bf16_and_keeps_fp32_state():
  mesh = parallel.make_mesh(jax.devices()[:1])
  batch = random_batch(mesh)
  losses, params = {}, {}
  for half in (False, True):
    built = built_steps(tiny_config(half_precision=half), mesh)
    state = built.init_state()
    hlo = built.train_step.lower(state, batch).as_text()
    assert ('bf16' in hlo) == half  # Convolutions and matmuls run in bf16 only when asked.
    state, metrics, finite = built.train_step(state, batch)
    assert bool(finite)
    floats = [x for x in jax.tree.leaves((state.params, state.batch_stats, state.opt_state))
              if jnp.issubdtype(x.dtype, jnp.floating)]
    assert {x.dtype for x in floats} == {jnp.dtype('float32')}
    losses[half], params[half] = float(metrics.compute()['loss']), params_of(state)
  np.testing.assert_allclose(losses[True], losses[False], rtol=1e-2)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=0.05, atol=1e-3),
               *params.values())


@pytest.mark.slow  # Compiles and runs train steps.
def test_a_chunk_of_steps_is_the_steps_one_by_one_and_skips_a_nonfinite_one():
  """Host batches in a chunk of 4 rows, of which 3 are trained and the second is poisoned."""
  mesh = parallel.make_mesh(jax.devices()[:1])
  built = built_steps(tiny_config(steps_per_dispatch=4, **{'data.pipeline': 'host'}), mesh)
  rng = np.random.default_rng(0)
  images = rng.normal(size=(4, 8, 32, 32, 3)).astype(np.float32)
  images[1, 3, 5, 5, 0] = np.nan
  chunk = {'image': images, 'label': rng.integers(0, 10, (4, 8)).astype(np.int32)}
  num_steps = parallel.put_global(np.int32(3), parallel.replicated(mesh))
  state, chunk_metrics, finite = built.train_chunk(
      built.init_state(), None, parallel.shard_batch(chunk, mesh, batch_axis=1), num_steps)
  assert np.asarray(finite)[:3].tolist() == [True, False, True]
  assert int(state.step) == 3

  one_by_one = built.init_state()
  for row in range(3):
    batch = parallel.shard_batch({k: v[row] for k, v in chunk.items()}, mesh)
    one_by_one, step_metrics, step_finite = built.train_step(one_by_one, batch)
    assert bool(step_finite) == (row != 1)
  assert int(one_by_one.step) == 3
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
               params_of(state), params_of(one_by_one))
  assert np.isfinite(float(chunk_metrics.compute()['learning_rate']))
