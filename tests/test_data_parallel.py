"""Two host devices give the same step as one device on the same global batch."""

import os
import subprocess
import sys

import numpy as np

from tests.conftest import ROOT

TWO_DEVICE_SCRIPT = '''
import sys
import jax, numpy as np, tensorflow_datasets as tfds
from resnet_jax import optim, parallel, train
from tests.conftest import tiny_config

assert jax.device_count() == 2, jax.devices()
config = tiny_config()
rng = np.random.default_rng(0)
batch = {'image': rng.normal(size=(8, 32, 32, 3)).astype(np.float32),
         'label': rng.integers(0, 10, 8).astype(np.int32)}
results = {}
for n in (1, 2):
  mesh = parallel.make_mesh(jax.devices()[:n])
  lr = optim.learning_rate_schedule(config.optimizer, steps_per_epoch=10, num_epochs=1)
  model = train.create_model(config)
  state = parallel.replicate(train.create_train_state(config, model, lr), mesh)
  state, metrics, finite = train.make_train_step(mesh, lr)(state, parallel.shard_batch(batch, mesh))
  assert bool(finite)
  leaves = jax.tree.leaves((state.params, state.batch_stats))
  results.update({f'loss{n}': np.asarray(metrics.compute()['loss'])} |
                 {f'leaf{n}_{i}': np.asarray(x) for i, x in enumerate(leaves)})
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
  np.testing.assert_allclose(results['loss1'], results['loss2'], rtol=1e-6)
  leaves = [k[len('leaf1_'):] for k in results if k.startswith('leaf1_')]
  assert len(leaves) > 10
  for i in leaves:
    np.testing.assert_allclose(results[f'leaf1_{i}'], results[f'leaf2_{i}'], rtol=1e-5,
                               atol=1e-6)
