"""Broken checkpoints, mismatched checkpoints, non-finite losses and a workdir in use."""

import os
import re
import shutil
import subprocess
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from resnet_jax import workdir_lock
from resnet_jax.errors import ConfigError, NonFiniteLoss
from tests.helpers import (ROOT, launch, saved_steps, tiny_config, train_on_mock_data,
                            write_cifar_python)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """A workdir with checkpoints at steps 4 and 8, and its config: 2 epochs on mock data at a
  constant learning rate (copy the workdir before changing it)."""
  workdir = tmp_path_factory.mktemp('tiny_run')
  config = tiny_config(num_epochs=2, **{'optimizer.schedule': 'constant'})
  train_on_mock_data(config, workdir)
  assert saved_steps(workdir) == [4, 8]
  return config, workdir


def copy_of(workdir, tmp_path):
  tmp_path.mkdir(parents=True, exist_ok=True)
  subprocess.run(['cp', '-r', str(workdir), str(tmp_path / 'run')], check=True)
  return tmp_path / 'run'


def truncate_files(step_dir):
  for root, _, files in os.walk(step_dir):
    for name in files:
      path = os.path.join(root, name)
      os.truncate(path, os.path.getsize(path) // 2)


@pytest.mark.slow
@pytest.mark.parametrize('damage', [
    truncate_files,
    lambda step_dir: subprocess.run(['rm', '-r', str(step_dir / 'default')], check=True),
], ids=['truncated', 'missing item'])
def test_unreadable_newest_checkpoint_falls_back_to_the_previous(trained, tmp_path, damage,
                                                                 caplog):
  config, workdir = trained
  workdir = copy_of(workdir, tmp_path)
  damage(workdir / 'checkpoints' / '8')
  caplog.set_level('INFO')
  state = train_on_mock_data(config, workdir)
  assert 'The checkpoint at step 8 is unreadable' in caplog.text
  assert 'Resumed from the checkpoint at step 4 ' in caplog.text
  assert int(state.step) == 8 and saved_steps(workdir) == [4, 8]
  assert (workdir / 'checkpoints_unreadable' / '8').is_dir()  # Set aside, not deleted.


def third_party_lines(stderr):
  """Lines that are not the project's: absl's format of others' records ('E1206 08:53:10.018517
  1405 checkpoint.py:219] ...') and Python's tracebacks."""
  return [line for line in stderr.splitlines()
          if re.match(r'[IWEF]\d{4} ', line) or line.startswith(('Traceback', '  File '))]


@pytest.mark.slow
def test_damaged_checkpoints_on_the_command_line_fall_back_or_refuse_never_start_over(
    trained, tmp_path):
  _, workdir = trained
  workdir = copy_of(workdir, tmp_path)
  data = write_cifar_python(tmp_path / 'data', num_train=32, num_test=16)  # 4 steps an epoch.
  train = ['--config', 'configs/tiny.py', f'--workdir={workdir}', f'--config.data.dir={data}',
           '--config.optimizer.schedule=constant']
  aside = workdir / 'checkpoints_unreadable'
  for path in (workdir / 'checkpoints' / '8' / 'default' / 'd').iterdir():
    os.truncate(path, os.path.getsize(path) // 2)  # Its arrays, cut short.
  resumed = launch(*train, '--config.num_epochs=3')
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert not third_party_lines(resumed.stderr), resumed.stderr[-3000:]
  assert (f'warning: The checkpoint at step 8 is unreadable (a file is cut short); moved it to '
          f'{aside / "8"}.') in resumed.stderr.splitlines()
  assert 'steps 5-12 (3 epochs of 4' in resumed.stdout and saved_steps(workdir) == [4, 8, 12]

  for step in (4, 8, 12):  # Every file of every checkpoint cut short, as in issue 27.
    truncate_files(workdir / 'checkpoints' / str(step))
  before = {name: (workdir / name).read_bytes() for name in ('config.json', 'run.json')}
  refusal = (f'error: no checkpoint in {workdir / "checkpoints"} can be restored: those of steps '
             '4, 8, 12 are damaged{} and were set aside in '
             f'{aside}. To start the run over, move that folder away or choose another --workdir')
  for what in (' (a metadata file is not valid JSON: cut short or corrupt)', ''):  # Then again.
    refused = launch(*train, '--config.num_epochs=3')
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert refused.stderr.splitlines() == [refusal.format(what)] and refused.stdout == ''
    assert saved_steps(workdir) == [] and sorted(os.listdir(aside)) == ['12', '4', '8', '8.1']
    assert {name: (workdir / name).read_bytes() for name in before} == before

  shutil.move(aside, tmp_path / 'kept')  # Starting over is the user's choice, as the line says.
  again = launch(*train, '--config.num_epochs=1')
  assert again.returncode == 0, again.stderr[-3000:]
  assert '| 4 steps (1 epoch of 4' in again.stdout and saved_steps(workdir) == [4]


@pytest.mark.slow
@pytest.mark.parametrize('overrides,expected', [
    ({'model.channels': (4, 16)}, 'holds another model: batch_stats/layer2_block1'),
    ({'model.blocks': (2, 1)}, 'is absent there but'),
    ({'optimizer.name': 'adam'}, 'holds the state of another optimizer'),
])
def test_checkpoint_of_another_design_is_refused(trained, tmp_path, overrides, expected):
  config, workdir = trained
  workdir = copy_of(workdir, tmp_path)
  config = tiny_config(num_epochs=3, **overrides)
  with pytest.raises(ConfigError, match=expected):
    train_on_mock_data(config, workdir)
  assert saved_steps(workdir) == [4, 8]


def finite_checkpoints(workdir):
  for step in saved_steps(workdir):
    restored = ocp.StandardCheckpointer().restore(workdir / 'checkpoints' / str(step) / 'default')
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(restored))


@pytest.mark.slow
def test_nonfinite_loss_stops_and_keeps_the_last_good_checkpoint(trained, tmp_path):
  config, workdir = trained
  messages = []
  for steps_per_dispatch in (1, 4):  # One step per call, or the whole epoch in one chunk.
    copy = copy_of(workdir, tmp_path / str(steps_per_dispatch))
    exploding = tiny_config(num_epochs=3, steps_per_dispatch=steps_per_dispatch,
                            **{'optimizer.learning_rate': 1e30, 'optimizer.schedule': 'constant'})
    with pytest.raises(NonFiniteLoss, match=r'at step (9|10|11|12) is not finite') as e:
      train_on_mock_data(exploding, copy)
    assert 'The newest checkpoint (8) is intact' in str(e.value)
    assert saved_steps(copy) == [4, 8]
    finite_checkpoints(copy)
    messages.append(str(e.value))
  assert messages[0] == messages[1]  # The same step, found inside the chunk.


@pytest.mark.slow
def test_nonfinite_steps_can_be_skipped(trained, tmp_path, caplog):
  config, workdir = trained
  workdir = copy_of(workdir, tmp_path)
  caplog.set_level('INFO')
  state = train_on_mock_data(tiny_config(num_epochs=3, nonfinite_loss='skip',
                          **{'optimizer.learning_rate': 1e30, 'optimizer.schedule': 'constant'}),
              workdir)
  assert int(state.step) == 12 and 'non-finite loss or update; skipped it' in caplog.text
  finite_checkpoints(workdir)


HOLD_LOCK = '''
import sys, time
from resnet_jax import workdir_lock
with workdir_lock.exclusive(sys.argv[1]):
  print('locked', flush=True)
  time.sleep(600)
'''


def test_one_run_per_workdir_and_stale_locks_do_not_block(tmp_path):
  holder = subprocess.Popen([sys.executable, '-c', HOLD_LOCK, str(tmp_path)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == 'locked'
    with pytest.raises(ConfigError, match=f'in use by a running job \\(pid {holder.pid} on'):
      with workdir_lock.exclusive(str(tmp_path)):
        pass
  finally:
    holder.kill()
    holder.wait()
  with workdir_lock.exclusive(str(tmp_path)):  # The killed holder left its file behind.
    pass
