"""The optax optimizer and learning-rate schedule a config asks for."""

import jax
import optax


def _constant(opt_config, steps_per_epoch, steps):
  del steps_per_epoch, steps
  return optax.constant_schedule(opt_config.learning_rate)


def _cosine(opt_config, steps_per_epoch, steps):
  del steps_per_epoch
  return optax.cosine_decay_schedule(opt_config.learning_rate, max(steps, 1))


def _step(opt_config, steps_per_epoch, steps):
  del steps
  return optax.exponential_decay(opt_config.learning_rate, opt_config.step_epochs * steps_per_epoch,
                                 1 / opt_config.step_factor, staircase=True)


def _onecycle(opt_config, steps_per_epoch, steps):
  del steps_per_epoch
  return optax.cosine_onecycle_schedule(steps, opt_config.learning_rate)


# config.optimizer.schedule -> (opt_config, steps_per_epoch, steps after the warm-up) -> schedule.
SCHEDULES = {'constant': _constant, 'cosine': _cosine, 'step': _step, 'onecycle': _onecycle}


def learning_rate_schedule(opt_config, steps_per_epoch: int,
                           num_epochs: float) -> optax.Schedule:
  """An optional linear warm-up from zero, then the schedule over the remaining steps.

  constant; cosine decay to zero; step: divided by `step_factor` every `step_epochs` epochs;
  onecycle: optax's cosine one-cycle peaking at the learning rate (it warms up by itself, so
  validation refuses a warm-up with it).
  """
  total_steps = round(steps_per_epoch * num_epochs)  # As the run's, for fractional epochs.
  lr = opt_config.learning_rate
  warmup_steps = min(int(opt_config.warmup_epochs * steps_per_epoch), total_steps)
  schedule = SCHEDULES[opt_config.schedule](opt_config, steps_per_epoch,
                                            total_steps - warmup_steps)
  if not warmup_steps:
    return schedule
  return optax.join_schedules([optax.linear_schedule(0.0, lr, warmup_steps), schedule],
                              [warmup_steps])


def kernels_only(params):
  """Weight-decay mask: conv and Dense kernels, not BatchNorm scales/biases or Dense biases."""
  return jax.tree.map(lambda p: p.ndim > 1, params)


def _with_l2(base):
  """`base` after L2 weight decay, weight_decay * w added to the gradient (PyTorch's)."""
  def build(opt_config, schedule, mask):
    return optax.chain(optax.add_decayed_weights(opt_config.weight_decay, mask),
                       base(opt_config, schedule))
  return build


def _adamw(opt_config, schedule, mask):
  return optax.adamw(schedule, weight_decay=opt_config.weight_decay, mask=mask)


# config.optimizer.name -> (opt_config, schedule, weight-decay mask) -> optimizer.
OPTIMIZERS = {
    'sgd': _with_l2(lambda c, schedule: optax.sgd(schedule, momentum=c.momentum or None,
                                                  nesterov=c.nesterov)),
    'adam': _with_l2(lambda c, schedule: optax.adam(schedule)),
    'adamw': _adamw,
    'adadelta': _with_l2(lambda c, schedule: optax.adadelta(schedule)),
}


def create_optimizer(opt_config, schedule: optax.Schedule) -> optax.GradientTransformation:
  """SGD (momentum, optional Nesterov), Adam or AdaDelta with L2 weight decay, or AdamW.

  L2 adds weight_decay * w to the gradient (the gradient of (weight_decay / 2) * |w|^2 in the
  loss, as PyTorch's `weight_decay`); AdamW decouples it from the adaptive scaling. Only kernels
  decay unless `decay_all_params`. Clipping by global norm acts on the loss gradient first.
  """
  mask = None if opt_config.decay_all_params else kernels_only
  tx = OPTIMIZERS[opt_config.name](opt_config, schedule, mask)
  if opt_config.clip_global_norm:
    tx = optax.chain(optax.clip_by_global_norm(opt_config.clip_global_norm), tx)
  return tx
