"""A killed or preempted run, started again, finishes bit-for-bit like a run never stopped
(device-resident data, augmented on device, in chunks of up to three steps)."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from tests.conftest import ROOT, write_cifar_python

pytestmark = pytest.mark.slow  # Every test here starts Python subprocesses or trains.

NUM_STEPS = 30  # 640 images / batch 64 = 10 steps per epoch, 3 epochs.


def command(data_dir, workdir):
  return [sys.executable, str(ROOT / 'launch.py'), '--config', 'configs/default.py',
          f'--workdir={workdir}', f'--config.data.dir={data_dir}', '--config.model.blocks=1,1',
          '--config.model.channels=4,8', '--config.batch_size=64',
          '--config.eval_batch_size=64', '--config.num_epochs=3',
          '--config.checkpoint_every_steps=4', '--config.log_every_steps=5',
          '--config.steps_per_dispatch=3', '--config.augment.cutout=8']  # Device pipeline.


def run(data_dir, workdir, args=None):
  """Runs `command`, or launch.py with `args` if given."""
  args = command(data_dir, workdir) if args is None else [sys.executable, 'launch.py', *args]
  proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600,
                        env=dict(os.environ, JAX_PLATFORMS='cpu'))
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc


def start_then_signal(data_dir, workdir, signum):
  """Starts a run and sends it `signum` a random moment after its first checkpoint."""
  proc = subprocess.Popen(command(data_dir, workdir), cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True,
                          env=dict(os.environ, JAX_PLATFORMS='cpu'))
  checkpoints = workdir / 'checkpoints'
  deadline = time.time() + 300
  while not (checkpoints.is_dir() and any(p.name.isdigit() for p in checkpoints.iterdir())):
    assert proc.poll() is None and time.time() < deadline, 'the run never checkpointed'
    time.sleep(0.02)
  time.sleep(random.uniform(0, 0.5))
  proc.send_signal(signum)
  _, stderr = proc.communicate(timeout=300)
  return proc.returncode, stderr


def final_state(workdir):
  steps = sorted(int(p.name) for p in (workdir / 'checkpoints').iterdir() if p.name.isdigit())
  assert steps[-1] == NUM_STEPS
  restored = ocp.StandardCheckpointer().restore(workdir / 'checkpoints' / str(NUM_STEPS) /
                                                'default')
  return jax.tree_util.tree_flatten_with_path(restored)[0]


def assert_bitwise_equal(a, b):
  assert [path for path, _ in a] == [path for path, _ in b]
  for (path, x), (_, y) in zip(a, b):
    assert np.array_equal(np.asarray(x), np.asarray(y)), jax.tree_util.keystr(path)


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
  """The dataset and the final state of an uninterrupted run."""
  root = tmp_path_factory.mktemp('resume')
  data_dir = write_cifar_python(root / 'data', num_train=640, num_test=64)
  run(data_dir, root / 'straight')
  return data_dir, final_state(root / 'straight')


def test_sigkill_then_rerun_is_bitwise_identical(reference, tmp_path):
  data_dir, expected = reference
  returncode, _ = start_then_signal(data_dir, tmp_path, signal.SIGKILL)
  assert returncode == -signal.SIGKILL
  saved = [int(p.name) for p in (tmp_path / 'checkpoints').iterdir() if p.name.isdigit()]
  assert max(saved) < NUM_STEPS, 'the kill came too late to test anything'
  resumed = run(data_dir, tmp_path)
  assert 'Resumed from the checkpoint at step' in resumed.stderr
  assert_bitwise_equal(final_state(tmp_path), expected)


def test_sigterm_checkpoints_exits_and_resumes_identically(reference, tmp_path):
  data_dir, expected = reference
  returncode, stderr = start_then_signal(data_dir, tmp_path, signal.SIGTERM)
  assert returncode == 128 + signal.SIGTERM, stderr[-3000:]
  message = [line for line in stderr.splitlines() if line.startswith('stopped by SIGTERM')]
  assert len(message) == 1, stderr[-3000:]
  stopped_at = int(message[0].split('after step ')[1].split(';')[0])
  assert 0 < stopped_at < NUM_STEPS
  assert (tmp_path / 'checkpoints' / str(stopped_at)).is_dir()
  resumed = run(data_dir, tmp_path, [f'--workdir={tmp_path}'])  # The config is in the workdir.
  assert f'Resumed from the checkpoint at step {stopped_at} ' in resumed.stderr
  assert_bitwise_equal(final_state(tmp_path), expected)
  console = resumed.stdout.splitlines()  # The set-up line, one line per epoch, the closing block.
  assert console[0].startswith('1 cpu device | B=1,1 C=4,8 F=3 K=1 P=global | ')
  assert f'steps {stopped_at + 1}-30 (3 epochs of 10, batch 64)' in console[0]
  assert console[-6].startswith('epoch 3/3  train_loss ') and 'test_accuracy' in console[-6]
  assert console[-5].startswith('Done in ') and ': test accuracy ' in console[-5]
  assert console[-4:] == [f'  {label:<11}  {path}' for label, path in (
      ('report', tmp_path / 'report.md'), ('curves', tmp_path / 'curves_*.png'),
      ('checkpoints', tmp_path / 'checkpoints'), ('TensorBoard',
                                                  f'tensorboard --logdir {tmp_path}'))]
  evaluated = run(data_dir, tmp_path, [f'--workdir={tmp_path}', '--mode=eval'])
  assert evaluated.stdout.startswith(f'Test accuracy at step {NUM_STEPS}: ')
  assert json.loads((tmp_path / 'report.json').read_text())['step'] == NUM_STEPS
