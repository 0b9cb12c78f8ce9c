"""End to end on tfds mock data: train, evaluate, checkpoint, resume; mixed precision."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import tensorflow_datasets as tfds

from resnet_jax import optim, parallel, train
from tests.conftest import tiny_config


def run(config, workdir):
  with tfds.testing.mock_data(num_examples=32):
    return train.train_and_evaluate(config, str(workdir))


def params_of(state):
  return jax.tree.map(np.asarray, (state.params, state.batch_stats))


def test_train_resume_and_evaluate(tmp_path, caplog):
  config = tiny_config(num_epochs=1, **{'optimizer.schedule': 'constant'})
  state = run(config, tmp_path / 'split')
  assert int(state.step) == 4  # 32 mock images / batch 8.
  assert sorted(os.listdir(tmp_path / 'split' / 'checkpoints')) == ['4']
  assert any(name.startswith('events.out.tfevents') for name in os.listdir(tmp_path / 'split'))

  config.num_epochs = 2
  caplog.set_level('INFO')
  resumed = run(config, tmp_path / 'split')
  assert 'Resumed from the checkpoint at step 4' in caplog.text
  assert int(resumed.step) == 8
  assert sorted(os.listdir(tmp_path / 'split' / 'checkpoints')) == ['4', '8']

  # Resuming at the epoch boundary continues the very same run.
  straight = run(config, tmp_path / 'straight')
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
               params_of(straight), params_of(resumed))

  with tfds.testing.mock_data(num_examples=32):
    results = train.evaluate_checkpoint(config, str(tmp_path / 'split'))
  assert results['step'] == 8 and results['num_images'] == 32
  assert 0 <= results['accuracy'] <= 1 and np.isfinite(results['loss'])
  assert set(results['per_class_accuracy']) == {'airplane', 'automobile', 'bird', 'cat', 'deer',
                                                'dog', 'frog', 'horse', 'ship', 'truck'}


def test_half_precision_computes_in_bf16_and_keeps_fp32_state():
  mesh = parallel.make_mesh(jax.devices()[:1])
  rng = np.random.default_rng(0)
  batch = parallel.shard_batch({'image': rng.normal(size=(8, 32, 32, 3)).astype(np.float32),
                                'label': rng.integers(0, 10, 8).astype(np.int32)}, mesh)
  losses, params = {}, {}
  for half in (False, True):
    config = tiny_config(half_precision=half)
    lr = optim.learning_rate_schedule(config.optimizer, steps_per_epoch=10, num_epochs=1)
    state = parallel.replicate(
        train.create_train_state(config, train.create_model(config), lr), mesh)
    step = train.make_train_step(mesh, lr)
    hlo = step.lower(state, batch).as_text()
    assert ('bf16' in hlo) == half  # Convolutions and matmuls run in bf16 only when asked.
    state, metrics, finite = step(state, batch)
    assert bool(finite)
    floats = [x for x in jax.tree.leaves((state.params, state.batch_stats, state.opt_state))
              if jnp.issubdtype(x.dtype, jnp.floating)]
    assert {x.dtype for x in floats} == {jnp.dtype('float32')}
    losses[half], params[half] = float(metrics.compute()['loss']), params_of(state)
  np.testing.assert_allclose(losses[True], losses[False], rtol=1e-2)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=0.05, atol=1e-3),
               *params.values())
