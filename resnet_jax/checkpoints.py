"""Orbax checkpoints of the train state under `workdir/checkpoints`."""

import os

import jax
from absl import logging
import orbax.checkpoint as ocp


def create_manager(workdir: str, keep: int) -> ocp.CheckpointManager:
  return ocp.CheckpointManager(
      os.path.join(os.path.abspath(workdir), 'checkpoints'),
      options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))


def save(manager: ocp.CheckpointManager, state) -> None:
  """Saves `state` at its step (asynchronously), unless that step is already saved."""
  step = int(state.step)
  if step not in manager.all_steps():
    manager.save(step, args=ocp.args.StandardSave(state))
    logging.info('Saving a checkpoint of step %d to %s.', step, manager.directory)


def restore_latest(manager: ocp.CheckpointManager, state):
  """The newest checkpoint, laid out like `state` (shapes, dtypes, shardings), or None."""
  step = manager.latest_step()
  if step is None:
    return None
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state)
  return manager.restore(step, args=ocp.args.StandardRestore(abstract))
