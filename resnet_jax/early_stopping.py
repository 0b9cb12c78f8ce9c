"""Early stopping on a monitored loss, keeping the best train state in its own checkpoint.

The best checkpoint (`workdir/checkpoints_best`) stores its loss and epoch as Orbax metrics;
they are all the stopping rule needs, so a resumed run stops exactly where an unbroken one would.
"""

import math
import os

import jax
import orbax.checkpoint as ocp


class EarlyStopping:
  """Stops once the loss has not improved for `patience` epochs (as Keras' EarlyStopping)."""

  def __init__(self, workdir: str, patience: int):
    self.patience = patience
    self.manager = ocp.CheckpointManager(
        os.path.join(os.path.abspath(workdir), 'checkpoints_best'),
        options=ocp.CheckpointManagerOptions(max_to_keep=1, best_fn=lambda m: m['loss'],
                                             best_mode='min', create=True))
    step = self.manager.best_step()
    metrics = self.manager.metrics(step) if step is not None else None
    self.best_loss = metrics['loss'] if metrics else math.inf
    self.best_epoch = metrics['epoch'] if metrics else None

  def update(self, epoch: int, loss: float, state) -> bool:
    """Records the loss after `epoch`, keeping `state` if it is the best; True: stop now."""
    if loss < self.best_loss:
      self.best_loss, self.best_epoch = loss, epoch
      self.manager.save(int(state.step), args=ocp.args.StandardSave(state),
                        metrics={'loss': loss, 'epoch': epoch})
    return self.stopped(epoch)

  def stopped(self, epoch: int) -> bool:
    return self.best_epoch is not None and epoch - self.best_epoch >= self.patience

  def best_state(self, like):
    """The best state, laid out like `like` (shapes, dtypes, shardings), or None."""
    self.manager.wait_until_finished()
    step = self.manager.best_step()
    if step is None:
      return None
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    return self.manager.restore(step, args=ocp.args.StandardRestore(abstract))
