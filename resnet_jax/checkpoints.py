"""Orbax checkpoints of the train state under `workdir/checkpoints`.

Restoring checks the newest checkpoint against the config's state first: a different model or
optimizer is refused with a message naming the difference; an unreadable (partial, truncated)
checkpoint is moved to `workdir/checkpoints_unreadable` and the previous one is tried.
"""

import os
import shutil

import jax
import orbax.checkpoint as ocp
from absl import logging

from resnet_jax.errors import ConfigError


def create_manager(workdir: str, keep: int) -> ocp.CheckpointManager:
  return ocp.CheckpointManager(
      os.path.join(os.path.abspath(workdir), 'checkpoints'),
      item_handlers=ocp.StandardCheckpointHandler(),
      options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                           cleanup_tmp_directories=True))


def save(manager: ocp.CheckpointManager, state) -> None:
  """Saves `state` at its step (asynchronously), unless that step is already saved."""
  step = int(state.step)
  if step not in manager.all_steps():
    manager.save(step, args=ocp.args.StandardSave(state))
    logging.debug('Saving a checkpoint of step %d to %s.', step, manager.directory)


def _shapes(tree) -> dict[str, tuple]:
  """'params/head/kernel' -> shape, for dataclass, dict and tuple nodes alike."""
  leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
  return {jax.tree_util.keystr(path, simple=True, separator='/'): tuple(leaf.shape)
          for path, leaf in leaves}


def _check_matches(stored, expected, step, directory) -> None:
  """Refuses a checkpoint whose model (or optimizer state) is not the config's."""
  stored, expected = _shapes(stored), _shapes(expected)
  model = lambda shapes: {k: v for k, v in shapes.items()
                          if k.startswith(('params/', 'batch_stats/'))}
  differences = [
      f'{k} is {model(stored).get(k, "absent")} there but {model(expected).get(k, "absent")} '
      'in this config' for k in sorted(model(stored).keys() | model(expected).keys())
      if model(stored).get(k) != model(expected).get(k)]
  if differences:
    more = f' (and {len(differences) - 1} more differences)' if len(differences) > 1 else ''
    raise ConfigError(f'the checkpoint at step {step} in {directory} holds another model: '
                      f'{differences[0]}{more}. Use the config that made it, or another --workdir')
  optimizer = lambda shapes: sorted(v for k, v in shapes.items() if k.startswith('opt_state/'))
  if optimizer(stored) != optimizer(expected):
    raise ConfigError(f'the checkpoint at step {step} in {directory} holds the state of another '
                      f'optimizer ({len(optimizer(stored))} arrays there, '
                      f'{len(optimizer(expected))} for config.optimizer); use the optimizer that '
                      'made it, or another --workdir')


def restore_latest(manager: ocp.CheckpointManager, state):
  """The newest readable checkpoint, laid out like `state` (shapes, dtypes, shardings), or None."""
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state)
  for step in sorted(manager.all_steps(), reverse=True):
    try:
      stored = manager.item_metadata(step)
      if stored is None:
        raise ValueError('no metadata')
      _check_matches(stored.tree, abstract, step, manager.directory)
      return manager.restore(step, args=ocp.args.StandardRestore(abstract))
    except ConfigError:
      raise
    except Exception as e:  # Truncated files, missing items: any unreadable checkpoint.
      _set_aside(manager, step, e)
  return None


def _set_aside(manager: ocp.CheckpointManager, step: int, error: Exception) -> None:
  """Moves an unreadable checkpoint out of the manager's sight (never deletes it)."""
  directory = str(manager.directory)
  aside = os.path.join(os.path.dirname(directory), 'checkpoints_unreadable')
  os.makedirs(aside, exist_ok=True)
  target = os.path.join(aside, str(step))
  suffix = 1
  while os.path.exists(target):
    target, suffix = os.path.join(aside, f'{step}.{suffix}'), suffix + 1
  if jax.process_index() == 0:
    shutil.move(os.path.join(directory, str(step)), target)
  logging.warning('The checkpoint at step %d is unreadable (%s: %s); moved it to %s and trying '
                  'the previous one.', step, type(error).__name__,
                  str(error).splitlines()[0][:200] if str(error) else '', target)
  manager.reload()
