"""The optax optimizer and learning-rate schedule a config asks for."""

import jax
import optax

OPTIMIZERS = ('sgd', 'adam', 'adamw', 'adadelta')
SCHEDULES = ('constant', 'cosine', 'step', 'onecycle')


def learning_rate_schedule(opt_config, steps_per_epoch: int, num_epochs: int) -> optax.Schedule:
  """An optional linear warm-up from zero, then the schedule over the remaining steps.

  constant; cosine decay to zero; step: divided by `step_factor` every `step_epochs` epochs;
  onecycle: optax's cosine one-cycle peaking at the learning rate (it warms up by itself).
  """
  total_steps = steps_per_epoch * num_epochs
  lr = opt_config.learning_rate
  if opt_config.schedule == 'onecycle':
    return optax.cosine_onecycle_schedule(total_steps, lr)
  warmup_steps = min(int(opt_config.warmup_epochs * steps_per_epoch), total_steps)
  if opt_config.schedule == 'cosine':
    schedule = optax.cosine_decay_schedule(lr, max(total_steps - warmup_steps, 1))
  elif opt_config.schedule == 'step':
    schedule = optax.exponential_decay(lr, opt_config.step_epochs * steps_per_epoch,
                                       1 / opt_config.step_factor, staircase=True)
  else:
    schedule = optax.constant_schedule(lr)
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


def create_optimizer(opt_config, schedule: optax.Schedule) -> optax.GradientTransformation:
  """SGD (momentum, optional Nesterov), Adam or AdaDelta with L2 weight decay, or AdamW.

  L2 adds weight_decay * w to the gradient (the gradient of (weight_decay / 2) * |w|^2 in the
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
  if opt_config.name == 'adamw':
    tx = optax.chain(optax.scale_by_adam(), *decay, optax.scale_by_learning_rate(schedule))
  else:
    if opt_config.name == 'sgd':
      base = optax.sgd(schedule, momentum=opt_config.momentum or None,
                       nesterov=opt_config.nesterov)
    elif opt_config.name == 'adam':
      base = optax.adam(schedule)
    else:
      base = optax.adadelta(schedule)
    tx = optax.chain(*decay, base)
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
