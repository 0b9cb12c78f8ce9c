"""Orbax checkpoints of the train state, without training: a saved state comes back exactly, a
checkpoint of another model is refused, naming the difference, damaged ones are set aside (and
none left is refused, never started over), any other failure moves nothing."""

import errno
import logging
import os
import shutil

import jax
import numpy as np
import optax
import pytest

from resnet_jax import checkpoints, models, parallel, steps
from resnet_jax.errors import ConfigError
from tests.helpers import random_variables, tiny_config


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


def saved_run(workdir, steps=(3, 6)):
  """A workdir with checkpoints of tiny_config's initial state at `steps`, its manager and the
  state."""
  state = initial_state()
  manager = checkpoints.create_manager(str(workdir), keep=len(steps))
  for step in steps:
    checkpoints.save(manager, state.replace(step=step))
    manager.wait_until_finished()
  return manager, state


def halve(path):
  os.truncate(path, os.path.getsize(path) // 2)


def every_file(folder):
  return [os.path.join(root, name) for root, _, names in os.walk(folder) for name in names]


DAMAGES = {  # What a crash, a full disk or a bad copy leaves, and how the refusal names it.
    'every file cut short': (lambda d: [halve(p) for p in every_file(d)],
                             'a metadata file is not valid JSON'),
    'array file cut short': (lambda d: [halve(p) for p in every_file(d / 'default' / 'd')],
                             'a file is cut short'),
    'corrupt manifest': (lambda d: halve(d / 'default' / 'manifest.ocdbt'), 'a file is corrupt'),
    'missing item': (lambda d: shutil.rmtree(d / 'default'), 'a folder is missing'),
    'missing metadata': (lambda d: os.remove(d / 'default' / '_METADATA'), 'a file is missing'),
}


def orbax_records(caplog):
  return [r for r in caplog.records if f'{os.sep}orbax{os.sep}' in r.pathname
          and r.levelno >= logging.WARNING]


@pytest.mark.parametrize('damage', DAMAGES)
def test_damaged_checkpoints_are_set_aside_and_none_left_is_refused(tmp_path, caplog, damage):
  manager, state = saved_run(tmp_path)
  harm, what = DAMAGES[damage]
  harm(tmp_path / 'checkpoints' / '6')
  caplog.set_level('WARNING')
  assert int(checkpoints.restore_latest(manager, state).step) == 3  # The previous one.
  assert f'The checkpoint at step 6 is unreadable ({what}' in caplog.text
  harm(tmp_path / 'checkpoints' / '3')
  with pytest.raises(ConfigError) as refused:
    checkpoints.restore_latest(manager, state)
  aside = tmp_path / 'checkpoints_unreadable'
  message = str(refused.value)
  assert message.startswith(f'no checkpoint in {tmp_path / "checkpoints"} can be restored: '
                            'those of steps 3, 6 are damaged (')
  assert what in message and '\n' not in message
  assert message.endswith(f'and were set aside in {aside}. To start the run over, move that '
                          'folder away or choose another workdir')
  assert refused.value.command_line() == message.removesuffix('workdir') + '--workdir'
  assert sorted(os.listdir(aside)) == ['3', '6'] and os.listdir(tmp_path / 'checkpoints') == []
  assert not orbax_records(caplog)  # Orbax's own lines are held back: ours say what they meant.
  # Again, with nothing left to try: still refused, never started over.
  with pytest.raises(ConfigError, match='those of steps 3, 6 are damaged and were set aside in'):
    checkpoints.restore_latest(manager, state)
  manager.close()


def cause(error, reason):
  error.__cause__ = reason
  return error


NOT_DAMAGE = {  # What the machine, not the files, gets wrong: nothing may be moved.
    'permission': PermissionError(errno.EACCES, 'Permission denied', '/ckpt/6/default/_METADATA'),
    'disk': OSError(errno.EIO, 'Input/output error'),
    'memory': MemoryError(),
    'memory in TensorStore': cause(Exception('Encountered error while reading array index'),
                                   ValueError('RESOURCE_EXHAUSTED: out of memory')),
    'TensorStore permission': ValueError('PERMISSION_DENIED: Error reading local file'),
    'version': ValueError('Unsupported checkpoint version 99'),
}


@pytest.mark.parametrize('name', NOT_DAMAGE)
def test_a_failure_other_than_damage_stops_with_its_cause_and_moves_nothing(tmp_path, caplog,
                                                                           monkeypatch, name):
  manager, state = saved_run(tmp_path)

  def fail(*args, **kwargs):
    raise NOT_DAMAGE[name]

  monkeypatch.setattr(manager, 'restore', fail)
  with pytest.raises(type(NOT_DAMAGE[name])) as stopped:
    checkpoints.restore_latest(manager, state)
  assert stopped.value is NOT_DAMAGE[name]
  assert (f'Reading the checkpoint at step 6 in {tmp_path / "checkpoints"} failed, not for '
          'damaged files; it was left in place.') in stopped.value.__notes__
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['3', '6']
  assert not (tmp_path / 'checkpoints_unreadable').exists() and 'unreadable' not in caplog.text
  manager.close()


def test_orbax_lines_become_one_warning_when_the_checkpoint_restores(tmp_path, caplog):
  manager, state = saved_run(tmp_path)
  for step in (3, 6):  # Orbax's record of the save (time, handlers): restoring needs neither.
    halve(tmp_path / 'checkpoints' / str(step) / '_CHECKPOINT_METADATA')
  caplog.set_level('WARNING')
  manager = checkpoints.create_manager(str(tmp_path), keep=2)  # As a resumed run opens them.
  assert int(checkpoints.restore_latest(manager, state).step) == 6
  assert not orbax_records(caplog)
  assert [r.getMessage() for r in caplog.records] == [
      'Restored the checkpoint at step 6, which did not need what Orbax could not read in '
      f'{tmp_path / "checkpoints"}: 6/_CHECKPOINT_METADATA.']
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['3', '6']
  manager.close()
