"""Orbax checkpoints of the train state under `workdir/checkpoints`.

Restoring checks the newest checkpoint against the config's state first: a different model or
optimizer is refused with a message naming the difference. A damaged checkpoint (files cut short,
corrupt or missing) is moved to `workdir/checkpoints_unreadable` and the previous one is tried;
when no checkpoint is left, the run is refused rather than started over, since starting over is
the user's choice. Any other failure to read (permissions, the disk, memory, a version of Orbax
that cannot read it) stops with its cause and moves nothing.
"""

import contextlib
import json
import logging as py_logging
import os
import shutil
import sys

import jax
import orbax.checkpoint as ocp
from absl import logging

from resnet_jax.errors import ConfigError

# A workdir's checkpoint folders, named here only: the newest few, early stopping's best, and the
# damaged ones set aside.
LATEST, BEST, UNREADABLE = 'checkpoints', 'checkpoints_best', 'checkpoints_unreadable'
_ORBAX = os.path.dirname(os.path.dirname(os.path.abspath(ocp.__file__))) + os.sep
# TensorStore's status codes (the start of its errors' messages) for files that are cut short,
# corrupt or missing, and what they mean.
_DAMAGE_CODES = {'OUT_OF_RANGE': 'a file is cut short', 'DATA_LOSS': 'a file is corrupt',
                 'NOT_FOUND': 'a file is missing'}


def directory(workdir: str, kind: str = LATEST) -> str:
  """The absolute path of a workdir's checkpoint folder of `kind` (Orbax wants absolute paths)."""
  return os.path.join(os.path.abspath(workdir), kind)


def default_kind(config, workdir: str) -> str:
  """Which checkpoint a trained run is evaluated, predicted and exported at by default: early
  stopping's best (BEST) when the run kept one, else the newest (LATEST)."""
  return (BEST if config.early_stopping_patience and os.path.isdir(directory(workdir, BEST))
          else LATEST)


def create_manager(workdir: str, keep: int) -> ocp.CheckpointManager:
  """The manager of `workdir/checkpoints`, keeping the newest `keep`."""
  # It reads each checkpoint's metadata, logging what it cannot; restoring reads it again and
  # says so in its own words.
  with quiet_orbax():
    return ocp.CheckpointManager(
        directory(workdir),
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
    raise ConfigError('the checkpoint at step %s in %s holds another model: %s%s. Use the config '
                      'that made it, or another workdir', step, directory, differences[0], more,
                      arguments=('workdir',))
  optimizer = lambda shapes: sorted(v for k, v in shapes.items() if k.startswith('opt_state/'))
  if optimizer(stored) != optimizer(expected):
    raise ConfigError('the checkpoint at step %s in %s holds the state of another optimizer (%s '
                      'arrays there, %s for config.optimizer); use the optimizer that made it, or '
                      'another workdir', step, directory, len(optimizer(stored)),
                      len(optimizer(expected)), arguments=('workdir',))


def restore_latest(manager: ocp.CheckpointManager, state):
  """The newest readable checkpoint, laid out like `state` (shapes, dtypes, shardings), or None
  if the run has none yet.

  Damaged checkpoints (`damage`) are set aside, newest first, until one restores; if none does,
  or all were set aside before, a ConfigError says so and how to start over.
  """
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state)
  directory = str(manager.directory)
  aside = os.path.join(os.path.dirname(directory), UNREADABLE)
  damaged = {}  # Step -> (what is wrong with it, where it went), for those set aside now.
  restored = None
  with quiet_orbax() as orbax_records:
    try:
      for step in sorted(manager.all_steps(), reverse=True):
        try:
          restored = _restore(manager, step, abstract)
          break
        except ConfigError:
          raise
        except Exception as e:  # pylint: disable=broad-exception-caught
          what = damage(e)
          if what is None:
            e.add_note(f'Reading the checkpoint at step {step} in {directory} failed, not for '
                       'damaged files; it was left in place.')
            raise
          damaged[step] = what, _set_aside(manager, step, aside)
    except Exception:
      _warn_set_aside(damaged)
      raise
  if restored is not None:
    _warn_set_aside(damaged)
    report_orbax(orbax_records, directory, int(restored.step), set_aside=damaged)
    return restored
  steps = sorted(set(damaged) | set(_steps_in(aside)))
  if steps:
    reasons = '; '.join(sorted({what for what, _ in damaged.values()}))
    raise ConfigError(
        'no checkpoint in %s can be restored: those of step%s %s are damaged%s and were set aside '
        'in %s. To start the run over, move that folder away or choose another workdir',
        directory, 's' if len(steps) > 1 else '', ', '.join(map(str, steps)),
        f' ({reasons})' if reasons else '', aside, arguments=('workdir',))
  return None


def _warn_set_aside(damaged: dict[int, tuple[str, str]]) -> None:
  for step, (what, target) in damaged.items():
    logging.warning('The checkpoint at step %d is unreadable (%s); moved it to %s.', step, what,
                    target)


def _restore(manager: ocp.CheckpointManager, step: int, abstract):
  stored = manager.item_metadata(step)
  if stored is None:
    raise FileNotFoundError(f'the checkpoint at step {step} has no metadata')
  _check_matches(stored.tree, abstract, step, manager.directory)
  return manager.restore(step, args=ocp.args.StandardRestore(abstract))


def damage(error: BaseException) -> str | None:
  """What is wrong with a checkpoint whose restoring raised `error`, if `error` (or an error
  that caused it) means its files are cut short, corrupt or missing; None for any other cause,
  such as permissions, the disk, memory or a version of Orbax that cannot read it."""
  while error is not None:
    message = str(error)
    if isinstance(error, json.JSONDecodeError) or 'Invalid JSON' in message:
      return 'a metadata file is not valid JSON: cut short or corrupt'
    if isinstance(error, FileNotFoundError):
      return 'a file is missing'
    if isinstance(error, ValueError):
      code = message.split(':', 1)[0]
      if code in _DAMAGE_CODES:
        return _DAMAGE_CODES[code]
      if message.startswith('Unable to retrieve default item'):  # Orbax's: no item folder.
        return 'a folder is missing'
    error = error.__cause__
  return None


def _steps_in(folder: str) -> list[int]:
  """The steps of the checkpoints set aside in `folder` (named '8', or '8.1' for a second)."""
  names = os.listdir(folder) if os.path.isdir(folder) else []
  return [int(name.split('.')[0]) for name in names if name.split('.')[0].isdigit()]


def _set_aside(manager: ocp.CheckpointManager, step: int, aside: str) -> str:
  """Moves a damaged checkpoint out of the manager's sight (never deletes it); returns where."""
  os.makedirs(aside, exist_ok=True)
  target = os.path.join(aside, str(step))
  suffix = 1
  while os.path.exists(target):
    target, suffix = os.path.join(aside, f'{step}.{suffix}'), suffix + 1
  if jax.process_index() == 0:
    shutil.move(os.path.join(str(manager.directory), str(step)), target)
  manager.reload()
  return target


@contextlib.contextmanager
def quiet_orbax():
  """Holds back Orbax's warnings and errors (absl log records) for the duration, into the list
  it yields: they are third-party lines such as "E1206 ... checkpoint.py:219] Failed to json
  parse Metadata file ...", and the caller says in its own words what they meant. Also drops,
  from then on, the tracebacks of TensorStore's late callbacks (`_DropClosedLoopCallbacks`)."""
  if not isinstance(sys.unraisablehook, _DropClosedLoopCallbacks):
    sys.unraisablehook = _DropClosedLoopCallbacks(sys.unraisablehook)
  held = []

  def hold(record) -> bool:
    if record.levelno >= py_logging.WARNING and os.path.abspath(record.pathname).startswith(
        _ORBAX):
      held.append(record)
      return False
    return True

  logger = py_logging.getLogger('absl')  # Where absl.logging's records start, in any thread.
  logger.addFilter(hold)
  try:
    yield held
  finally:
    logger.removeFilter(hold)


class _DropClosedLoopCallbacks:
  """An unraisable-exception hook that drops "RuntimeError: Event loop is closed".

  When one read of a checkpoint fails, Orbax closes its asyncio loop while TensorStore finishes
  the other reads; each of their callbacks then finds the loop closed, and Python prints its
  traceback (dozens, in the middle of the run's output). They carry nothing: the failure itself
  is raised and reported.
  """

  def __init__(self, previous):
    self.previous = previous

  def __call__(self, unraisable):
    if not (isinstance(unraisable.exc_value, RuntimeError)
            and str(unraisable.exc_value) == 'Event loop is closed'):
      self.previous(unraisable)


def report_orbax(records, directory: str, step: int, set_aside=()) -> None:
  """What Orbax logged (`quiet_orbax`'s records) while the checkpoint at `step` of `directory`
  restored, as one warning, leaving out the checkpoints `set_aside` (their own warnings say it)."""
  aside = {str(s) for s in set_aside}
  problems = set()  # Files of the checkpoints, relative to `directory`, or else the message.
  for record in records:
    args = record.args if isinstance(record.args, tuple) else ()
    paths = [os.path.relpath(str(arg), directory) for arg in args
             if isinstance(arg, (str, os.PathLike)) and str(arg).startswith(directory + os.sep)]
    problems.update(path for path in paths if path.split(os.sep)[0] not in aside)
    if not paths:
      problems.add(record.getMessage().splitlines()[0][:200])
  if problems:
    logging.warning('Restored the checkpoint at step %d, which did not need what Orbax could not '
                    'read in %s: %s.', step, directory, '; '.join(sorted(problems)))
