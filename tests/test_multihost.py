"""Two processes of one CPU device each (JAX's distributed runtime, gloo collectives) train
exactly like one process with two devices, checkpoint together, and resume after a restart."""

import json
import os
import socket
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from tests.conftest import ROOT, TINY_FLAGS, launch, with_host_devices, write_cifar_python

pytestmark = pytest.mark.slow  # Every test here starts Python subprocesses or trains.

WORKER = '''
import json, sys
import jax, numpy as np
from resnet_jax import parallel, steps
from tests.conftest import tiny_config

process_id, num_processes, port, data_dir, workdir, out = sys.argv[1:]
if num_processes != '1':
  parallel.initialize(f'localhost:{port}', int(num_processes), int(process_id))
assert jax.device_count() == 2 and jax.process_count() == int(num_processes), jax.devices()
config = tiny_config(**{'data.dir': data_dir, 'optimizer.schedule': 'constant'})

# Four steps on fixed global batches of 8; each process feeds its own half of every batch.
mesh = parallel.make_mesh()
built = steps.build(config, mesh, steps_per_epoch=4, num_steps=4)
state = built.init_state()
rng = np.random.default_rng(0)
half = slice(4 * jax.process_index(), 4 * jax.process_index() + 8 // jax.process_count())
losses = []
for _ in range(4):
  batch = {'image': rng.normal(size=(8, 32, 32, 3)).astype(np.float32),
           'label': rng.integers(0, 10, 8).astype(np.int32)}
  local_batch = parallel.shard_batch({k: v[half] for k, v in batch.items()}, mesh)
  state, metrics, _ = built.train_step(state, local_batch)
  losses.append(float(metrics.compute()['loss']))
leaves = jax.tree.leaves((state.params, state.batch_stats))
np.savez(f'{out}.{process_id}.npz', losses, *[np.asarray(x.addressable_data(0)) for x in leaves])

if workdir != '-':  # The whole loop: device-resident data, one checkpoint, full evaluation.
  from resnet_jax import train  # The reference need not import TensorFlow.
  state = train.train_and_evaluate(config, workdir)
  results = train.evaluate_checkpoint(config, workdir)['test']
  print('RESULT', json.dumps({'step': int(state.step), 'num_images': results['num_images']}))
'''

def free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def run_together(commands, timeout=600):
  """Starts (command, env) pairs at once; returns each (returncode, stdout + stderr)."""
  logs = [tempfile.TemporaryFile('w+') for _ in commands]
  procs = [subprocess.Popen(c, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
           for (c, env), log in zip(commands, logs)]
  try:
    codes = [p.wait(timeout) for p in procs]
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()  # A process whose peer died would wait for it until JAX's timeout.
  outputs = []
  for log in logs:
    log.seek(0)
    outputs.append(log.read())
    log.close()
  return list(zip(codes, outputs))


def test_two_processes_match_two_devices_and_resume(tmp_path):
  data = write_cifar_python(tmp_path / 'cifar', num_train=24, num_test=21)
  env = os.environ | {'JAX_PLATFORMS': 'cpu',
                      'JAX_COMPILATION_CACHE_DIR': str(tmp_path / 'jax_cache')}  # Compile once.
  two_devices = with_host_devices(2, env)  # The same XLA flags on both sides, and two devices.
  workdir, out, port = tmp_path / 'run', tmp_path / 'steps', free_port()
  worker = [sys.executable, '-c', WORKER]
  *runs, reference = run_together(
      [(worker + [str(i), '2', str(port), str(data), str(workdir), str(out)], env)
       for i in range(2)] + [(worker + ['0', '1', '0', str(data), '-', f'{out}_ref'], two_devices)])
  for returncode, output in runs + [reference]:
    assert returncode == 0, output[-3000:]

  ref = np.load(f'{out}_ref.0.npz')
  for i in range(2):
    got = np.load(f'{out}.{i}.npz')
    assert len(got.files) == len(ref.files) > 10
    np.testing.assert_allclose(got['arr_0'], ref['arr_0'], rtol=1e-6)  # The loss curve.
    for name in ref.files[1:]:
      np.testing.assert_allclose(got[name], ref[name], rtol=1e-5, atol=1e-6)
  results = [json.loads(output.split('RESULT ')[1].splitlines()[0]) for _, output in runs]
  # 24 training images on the devices of both, global batch 8; 21 test images.
  assert results == [{'step': 3, 'num_images': 21}] * 2
  assert sorted(os.listdir(workdir / 'checkpoints')) == ['3']

  # Restart both, through the command line, for a second epoch.
  port = free_port()
  runs = run_together([([sys.executable, 'launch.py', *TINY_FLAGS, f'--workdir={workdir}',
                         f'--config.data.dir={data}', '--config.num_epochs=2',
                         '--config.optimizer.schedule=constant',
                         f'--coordinator_address=localhost:{port}', '--num_processes=2',
                         f'--process_id={i}'], env) for i in range(2)])
  for returncode, output in runs:
    assert returncode == 0, output[-3000:]
  assert 'Resumed from the checkpoint at step 3' in runs[0][1]
  assert 'Resumed' not in runs[1][1]  # Only process 0 logs.
  assert sorted(os.listdir(workdir / 'checkpoints')) == ['3', '6']


def test_distributed_without_a_cluster_is_a_one_line_error():
  proc = launch('--config', 'configs/resnet24.py', '--mode=summary', '--distributed')
  assert proc.returncode == 2 and 'Traceback' not in proc.stderr
  assert 'error: cannot start the multi-process runtime (coordinator_address' in proc.stderr
