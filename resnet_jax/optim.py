"""The optax optimizer and learning-rate schedule a config asks for."""

import optax

OPTIMIZERS = ('sgd', 'adam', 'adamw')
SCHEDULES = ('constant', 'cosine')


def learning_rate_schedule(opt_config, steps_per_epoch: int, num_epochs: int) -> optax.Schedule:
  """Constant or cosine decay to zero, after an optional linear warm-up from zero."""
  total_steps = steps_per_epoch * num_epochs
  warmup_steps = min(int(opt_config.warmup_epochs * steps_per_epoch), total_steps)
  lr = opt_config.learning_rate
  if opt_config.schedule == 'cosine':
    if warmup_steps:
      return optax.warmup_cosine_decay_schedule(0.0, lr, warmup_steps, total_steps)
    return optax.cosine_decay_schedule(lr, total_steps)
  if warmup_steps:
    return optax.join_schedules(
        [optax.linear_schedule(0.0, lr, warmup_steps), optax.constant_schedule(lr)],
        [warmup_steps])
  return optax.constant_schedule(lr)


def create_optimizer(opt_config, schedule: optax.Schedule) -> optax.GradientTransformation:
  """SGD (momentum, optional Nesterov) or Adam with L2 weight decay, or AdamW (decoupled).

  For SGD and Adam, weight decay is added to the gradient as PyTorch's `weight_decay` does.
  """
  if opt_config.name == 'adamw':
    return optax.adamw(schedule, weight_decay=opt_config.weight_decay)
  if opt_config.name == 'sgd':
    base = optax.sgd(schedule, momentum=opt_config.momentum or None,
                     nesterov=opt_config.nesterov)
  else:
    base = optax.adam(schedule)
  return optax.chain(optax.add_decayed_weights(opt_config.weight_decay), base)
