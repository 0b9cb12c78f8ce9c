"""A killed or preempted run, started again, finishes bit-for-bit like a run never stopped
(device-resident data, augmented on device, in chunks of up to three steps), and what the console
shows on a machine's first run, which imports no TensorFlow."""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from resnet_jax import train
from tests.helpers import ROOT, command_line_config, saved_steps, write_cifar_python

pytestmark = pytest.mark.slow  # Every test here starts Python subprocesses or trains.

NUM_STEPS = 30  # 320 images / batch 32 = 10 steps per epoch, 3 epochs.
ARGS = ['--config.model.blocks=1,1', '--config.model.channels=4,8', '--config.batch_size=32',
        '--config.eval_batch_size=64', '--config.num_epochs=3', '--config.checkpoint_every_steps=4',
        '--config.log_every_steps=5', '--config.steps_per_dispatch=3',
        '--config.augment.cutout=8']  # Device pipeline.


def command(data_dir, workdir):
  return [sys.executable, str(ROOT / 'launch.py'), '--config', 'configs/default.py',
          f'--workdir={workdir}', f'--config.data.dir={data_dir}', *ARGS]


def run(*args, **environ):
  """Runs launch.py with `args` and more environment variables, which must succeed."""
  proc = subprocess.run([sys.executable, 'launch.py', *args], cwd=ROOT, capture_output=True,
                        text=True, timeout=600,
                        env=dict(os.environ, JAX_PLATFORMS='cpu', **environ))
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc


def start_then_signal(data_dir, workdir, signum, after=0):
  """Starts a run and sends it `signum` a random moment after it saves a checkpoint of a step
  past `after`."""
  proc = subprocess.Popen(command(data_dir, workdir), cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True,
                          env=dict(os.environ, JAX_PLATFORMS='cpu'))
  deadline = time.time() + 300
  while not [step for step in saved_steps(workdir) if step > after]:
    assert proc.poll() is None and time.time() < deadline, f'no checkpoint past step {after}'
    time.sleep(0.02)
  time.sleep(random.uniform(0, 0.5))
  proc.send_signal(signum)
  _, stderr = proc.communicate(timeout=300)
  return proc.returncode, stderr


def final_state(workdir):
  assert saved_steps(workdir)[-1] == NUM_STEPS
  restored = ocp.StandardCheckpointer().restore(workdir / 'checkpoints' / str(NUM_STEPS) /
                                                'default')
  return jax.tree_util.tree_flatten_with_path(restored)[0]


def assert_bitwise_equal(a, b):
  assert [path for path, _ in a] == [path for path, _ in b]
  for (path, x), (_, y) in zip(a, b):
    assert np.array_equal(np.asarray(x), np.asarray(y)), jax.tree_util.keystr(path)


def test_killed_then_preempted_run_resumes_bitwise_identically(tmp_path):
  """SIGKILL (nothing saved past the last checkpoint), a rerun, SIGTERM (checkpoint and exit 143)
  and a rerun from the workdir's config: the final state is bit for bit that of the same run
  never stopped, here trained in this process (the same code and XLA flags as launch.py)."""
  data_dir = write_cifar_python(tmp_path / 'data', num_train=320, num_test=64)
  straight = command_line_config(f'--config.data.dir={data_dir}', *ARGS,
                                 config='configs/default.py').config
  train.train_and_evaluate(straight, str(tmp_path / 'straight'))
  expected = final_state(tmp_path / 'straight')
  workdir = tmp_path / 'run'

  returncode, _ = start_then_signal(data_dir, workdir, signal.SIGKILL)
  assert returncode == -signal.SIGKILL
  killed_at = saved_steps(workdir)[-1]
  assert killed_at < NUM_STEPS, 'the kill came too late to test anything'

  returncode, stderr = start_then_signal(data_dir, workdir, signal.SIGTERM, after=killed_at)
  assert returncode == 128 + signal.SIGTERM, stderr[-3000:]
  assert f'Resumed from the checkpoint at step {killed_at} ' in stderr
  message = [line for line in stderr.splitlines() if line.startswith('stopped by SIGTERM')]
  assert len(message) == 1, stderr[-3000:]
  stopped_at = int(message[0].split('after step ')[1].split(';')[0])
  assert killed_at < stopped_at < NUM_STEPS
  assert (workdir / 'checkpoints' / str(stopped_at)).is_dir()

  # The config is in the workdir; and, as on a machine's first run, matplotlib has no font cache.
  caches = {'MPLCONFIGDIR': tmp_path / 'matplotlib', 'XDG_CACHE_HOME': tmp_path / 'cache'}
  for folder in caches.values():
    folder.mkdir()
  resumed = run(f'--workdir={workdir}', PYTHONPROFILEIMPORTTIME='1',
                **{name: str(folder) for name, folder in caches.items()})
  assert f'Resumed from the checkpoint at step {stopped_at} ' in resumed.stderr
  imported = [line.split('|')[-1].strip() for line in resumed.stderr.splitlines()
              if line.startswith('import time:')]  # A local copy on the device pipeline: no
  assert 'jax' in imported and 'tensorflow' not in imported  # TensorFlow (seconds) to import.
  assert list(caches['MPLCONFIGDIR'].iterdir()), 'matplotlib built no font cache: not a first run'
  output = resumed.stdout + resumed.stderr  # Only our lines: no third-party log line.
  assert 'fontManager' not in output
  assert not re.search(r'^I\d{4} ', output, re.M), output  # No INFO line in absl's format.
  assert re.search(r'^Start-up took \d+\.\d s, from launch to the end of the first '
                   r'(step|\d+ steps) \(imports, data loading, compilation\)\.$', output, re.M)
  assert_bitwise_equal(final_state(workdir), expected)
  console = resumed.stdout.splitlines()  # The set-up line, one line per epoch, the closing block.
  assert console[0].startswith('1 cpu device | B=1,1 C=4,8 F=3 K=1 P=global | ')
  assert f'steps {stopped_at + 1}-30 (3 epochs of 10, batch 32)' in console[0]
  assert console[-6].startswith('epoch 3/3  train_loss ') and 'test_accuracy' in console[-6]
  assert console[-5].startswith('Done in ') and ': test accuracy ' in console[-5]
  assert console[-4:] == [f'  {label:<11}  {path}' for label, path in (
      ('report', workdir / 'report.md'), ('curves', workdir / 'curves_*.png'),
      ('checkpoints', workdir / 'checkpoints'), ('TensorBoard',
                                                 f'tensorboard --logdir {workdir}'))]
  evaluated = run(f'--workdir={workdir}', '--mode=eval')
  assert evaluated.stdout.startswith(f'Test accuracy at step {NUM_STEPS}: ')
  assert json.loads((workdir / 'report.json').read_text())['step'] == NUM_STEPS
