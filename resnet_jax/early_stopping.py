"""Early stopping on the validation loss, keeping the best train state in its own checkpoint.

It never watches the test set: a checkpoint the test set chose would make the reported test
accuracy optimistic. Without a configured validation split it holds one out (`validation_fraction`).
The best checkpoint (`checkpoints.BEST` in the workdir) stores its loss and epoch as Orbax metrics;
they are all the stopping rule needs, so a resumed run stops exactly where an unbroken one would.
"""

import math

import jax
import orbax.checkpoint as ocp

from resnet_jax import checkpoints

# The share of the training set held out when early stopping is on and config.data.val_fraction
# is 0 (Keras' and scikit-learn's usual 10%).
DEFAULT_VAL_FRACTION = 0.1


def validation_fraction(config) -> float:
  """The share of the training set held out for validation: config.data.val_fraction, or with
  early stopping and none configured, `DEFAULT_VAL_FRACTION`."""
  if config.early_stopping_patience and not config.data.val_fraction:
    return DEFAULT_VAL_FRACTION
  return config.data.val_fraction


class EarlyStopping:
  """Stops once the validation loss has not improved for `patience` epochs (as Keras'
  EarlyStopping)."""

  def __init__(self, workdir: str, patience: int):
    self.patience = patience
    self.manager = ocp.CheckpointManager(
        checkpoints.directory(workdir, checkpoints.BEST),
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

  def selected_by(self) -> str:
    """How the best checkpoint was chosen, for the reports."""
    return (f'the checkpoint with the lowest validation loss (after epoch {self.best_epoch}), '
            'kept by early stopping')

  def best_state(self, like):
    """The best state, laid out like `like` (shapes, dtypes, shardings), or None."""
    self.manager.wait_until_finished()
    step = self.manager.best_step()
    if step is None:
      return None
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    return self.manager.restore(step, args=ocp.args.StandardRestore(abstract))
