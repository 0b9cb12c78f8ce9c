"""Two host devices train exactly like one: the same step on the same global batch, and the same
run through the device pipeline, whose data order does not depend on the device count."""

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # Every test here starts Python subprocesses or trains.

TWO_DEVICE_SCRIPT = '''
import sys
import jax, numpy as np, tensorflow_datasets as tfds
from resnet_jax import device_data, parallel, steps, train
from tests.conftest import tiny_config

assert jax.device_count() == 2, jax.devices()
config = tiny_config(num_epochs=2, steps_per_dispatch=3,
                     **{'augment.cutout': 4, 'augment.mixup_alpha': 1.0})
rng = np.random.default_rng(0)
batch = {'image': rng.normal(size=(8, 32, 32, 3)).astype(np.float32),
         'label': rng.integers(0, 10, 8).astype(np.int32)}
images, labels = device_data.synthetic(40)
results = {}
for n in (1, 2):
  mesh = parallel.make_mesh(jax.devices()[:n])
  built = steps.build(config, mesh, steps_per_epoch=10, num_steps=10)
  state, metrics, finite = built.train_step(built.init_state(), parallel.shard_batch(batch, mesh))
  assert bool(finite)
  leaves = jax.tree.leaves((state.params, state.batch_stats))
  results.update({f'step_loss{n}': np.asarray(metrics.compute()['loss'])} |
                 {f'step{n}_{i}': np.asarray(x) for i, x in enumerate(leaves)})
  # Ten steps (two epochs) through the device pipeline, in chunks of up to three.
  trainer = train.Trainer(config, mesh,
                          data={'train': (images, labels), 'test': (images, labels)})
  state, step = trainer.initial_state(), 0
  while step < 10:
    end = trainer.chunk_end(step)
    state, _, finite = trainer.train_chunk(state, step, end)
    assert np.asarray(finite)[:end - step].all()
    step = end
  leaves = jax.tree.leaves((state.params, state.batch_stats))
  results.update({f'run{n}_{i}': np.asarray(x) for i, x in enumerate(leaves)})
  results[f'eval{n}'] = np.asarray(trainer.evaluate(state).compute()['loss'])
np.savez(sys.argv[1], **results)

with tfds.testing.mock_data(num_examples=16):  # The whole loop runs on two devices too.
  state = train.train_and_evaluate(tiny_config(), sys.argv[2])
assert int(state.step) == 2, state.step
'''


def test_two_devices_match_one_device(tmp_path):
  env = dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS=os.environ.get('XLA_FLAGS', '')
             + ' --xla_force_host_platform_device_count=2')
  out = tmp_path / 'results.npz'
  proc = subprocess.run([sys.executable, '-c', TWO_DEVICE_SCRIPT, str(out),
                         str(tmp_path / 'workdir')], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = np.load(out)
  np.testing.assert_allclose(results['step_loss1'], results['step_loss2'], rtol=1e-6)
  np.testing.assert_allclose(results['eval1'], results['eval2'], rtol=1e-4)
  # One step agrees to float rounding; ten steps let the rounding differences grow a little.
  for kind, rtol, atol in (('step', 1e-5, 1e-6), ('run', 1e-4, 1e-5)):
    leaves = [k[len(f'{kind}1_'):] for k in results if k.startswith(f'{kind}1_')]
    assert len(leaves) > 10
    for i in leaves:
      np.testing.assert_allclose(results[f'{kind}1_{i}'], results[f'{kind}2_{i}'], rtol=rtol,
                                 atol=atol)
