"""Two host devices train exactly like one: the same step on the same global batch, and the same
run through the device pipeline, whose data order does not depend on the device count; and the
whole training loop on two devices is that run, bit for bit."""

import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import ROOT, with_host_devices

pytestmark = pytest.mark.slow  # Every test here starts Python subprocesses or trains.

TWO_DEVICE_SCRIPT = '''
import pathlib, sys
import jax, numpy as np
from resnet_jax import data_sources, parallel, steps, train
from tests.helpers import tiny_config, write_cifar_python

assert jax.device_count() == 2, jax.devices()
out, workdir = sys.argv[1], pathlib.Path(sys.argv[2])
data_dir = write_cifar_python(workdir / 'data', num_train=40, num_test=40)
config = tiny_config(num_epochs=2, steps_per_dispatch=3, **{
    'augment.cutout': 4, 'augment.mixup_alpha': 1.0, 'data.dir': str(data_dir)})
rng = np.random.default_rng(0)
batch = {'image': rng.normal(size=(8, 32, 32, 3)).astype(np.float32),
         'label': rng.integers(0, 10, 8).astype(np.int32)}
data = {split: data_sources.load_split(config.data, split) for split in ('train', 'test')}
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
  trainer = train.Trainer(config, mesh, data=data)
  state, step = trainer.initial_state(), 0
  while step < 10:
    end = trainer.chunk_end(step)
    state, _, finite = trainer.train_chunk(state, step, end)
    assert np.asarray(finite)[:end - step].all()
    step = end
  leaves = jax.tree.leaves((state.params, state.batch_stats))
  results.update({f'run{n}_{i}': np.asarray(x) for i, x in enumerate(leaves)})
  results[f'eval{n}'] = np.asarray(trainer.evaluate(state).compute()['loss'])

# The whole loop on two devices (data from disk, checkpoints, evaluation) is that run.
state = train.train_and_evaluate(config, str(workdir / 'run'))
assert int(state.step) == 10, state.step
leaves = jax.tree.leaves((state.params, state.batch_stats))
results.update({f'loop2_{i}': np.asarray(x) for i, x in enumerate(leaves)})
np.savez(out, **results)
'''


def test_two_devices_match_one_device(tmp_path):
  out = tmp_path / 'results.npz'
  proc = subprocess.run([sys.executable, '-c', TWO_DEVICE_SCRIPT, str(out),
                         str(tmp_path)], cwd=ROOT, env=with_host_devices(2), capture_output=True,
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
  for i in leaves:  # The same programs on the same data: bit for bit.
    np.testing.assert_array_equal(results[f'loop2_{i}'], results[f'run2_{i}'])
