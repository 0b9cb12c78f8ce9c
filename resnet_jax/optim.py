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


def vectors_only(params):
  """The rest: BatchNorm scales and biases and the Dense bias (`bias_lr_factor` scales these)."""
  return jax.tree.map(lambda p: p.ndim <= 1, params)


# config.optimizer.name -> (opt_config, schedule, weight-decay transforms) -> optimizer. L2 decay
# comes before the update rule (it is added to the gradient); AdamW's after Adam's scaling.
OPTIMIZERS = {
    'sgd': lambda c, schedule, decay: optax.chain(
        *decay, optax.sgd(schedule, momentum=c.momentum or None, nesterov=c.nesterov)),
    'adam': lambda c, schedule, decay: optax.chain(*decay, optax.adam(schedule)),
    'adamw': lambda c, schedule, decay: optax.chain(
        optax.scale_by_adam(), *decay, optax.scale_by_learning_rate(schedule)),
    'adadelta': lambda c, schedule, decay: optax.chain(*decay, optax.adadelta(schedule)),
}


def create_optimizer(opt_config, schedule: optax.Schedule) -> optax.GradientTransformation:
  """SGD (momentum, optional Nesterov), Adam or AdaDelta with L2 weight decay, or AdamW.

  L2 adds weight_decay * w to the gradient (the gradient of `(weight_decay / 2) * |w|^2` in the
  loss, as PyTorch's `weight_decay`); AdamW decouples it from the adaptive scaling. Only kernels
  decay unless `decay_all_params`. Clipping by global norm acts on the loss gradient first.

  `bias_lr_factor` multiplies the steps of BatchNorm scales/biases and the Dense bias; their
  weight decay is divided by it, so only the learning rate changes, as airbench's
  `bias_scaler` (its BatchNorm biases learn 64x faster, decaying as much as kernels).
  `lookahead_sync_period` > 0 wraps it all in Lookahead: the train state's parameters are then
  `optax.LookaheadParams` (see `fast_params` and `slow_params`).
  """
  factor = opt_config.bias_lr_factor
  if factor == 1:
    mask = None if opt_config.decay_all_params else kernels_only
    decay = [optax.add_decayed_weights(opt_config.weight_decay, mask)]
  else:
    decay = [optax.add_decayed_weights(opt_config.weight_decay, kernels_only)]
    if opt_config.decay_all_params:
      decay.append(optax.add_decayed_weights(opt_config.weight_decay / factor, vectors_only))
  tx = OPTIMIZERS[opt_config.name](opt_config, schedule, decay)
  if factor != 1:
    tx = optax.chain(tx, optax.masked(optax.scale(factor), vectors_only))
  if opt_config.clip_global_norm:
    tx = optax.chain(optax.clip_by_global_norm(opt_config.clip_global_norm), tx)
  if opt_config.lookahead_sync_period:
    tx = optax.lookahead(tx, opt_config.lookahead_sync_period, opt_config.lookahead_step_size)
  return tx


def initial_params(opt_config, params):
  """The parameters a train state holds: under Lookahead, a synced fast and slow copy."""
  if opt_config.lookahead_sync_period:
    return optax.LookaheadParams.init_synced(params)
  return params


def fast_params(params):
  """The parameters to take gradients at: Lookahead's fast ones, or the only ones."""
  return params.fast if isinstance(params, optax.LookaheadParams) else params


def slow_params(params):
  """The parameters to evaluate and report: Lookahead's slow ones, or the only ones."""
  return params.slow if isinstance(params, optax.LookaheadParams) else params
