"""Each optimizer and schedule against its textbook update / closed form, a few steps long."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from resnet_jax import defaults, optim

SHAPES = {'conv': {'kernel': (3, 3, 2, 2)}, 'norm': {'scale': (2,), 'bias': (2,)},
          'head': {'kernel': (2, 3), 'bias': (3,)}}


def opt_config(**overrides):
  config = defaults.get_config().optimizer
  config.update(overrides)
  return config


def reference(config, schedule, params, grads_seq):
  """A step-by-step numpy transcription of each algorithm's published update rule."""
  params = {k: np.array(v, np.float64) for k, v in params.items()}
  state = {k: {'m': np.zeros_like(v), 'v': np.zeros_like(v)} for k, v in params.items()}
  wd, mu = config.weight_decay, config.momentum
  for t, grads in enumerate(grads_seq):
    grads = {k: np.array(v, np.float64) for k, v in grads.items()}
    if config.clip_global_norm:
      norm = math.sqrt(sum(np.sum(g ** 2) for g in grads.values()))
      grads = {k: g * min(1.0, config.clip_global_norm / norm) for k, g in grads.items()}
    lr = float(schedule(t))
    for k, g in grads.items():
      p, s = params[k], state[k]
      decay = wd * p if (config.decay_all_params or p.ndim > 1) else 0 * p
      if config.name == 'sgd':  # PyTorch SGD: L2 in the gradient, momentum buffer.
        g = g + decay
        s['m'] = mu * s['m'] + g
        step = g + mu * s['m'] if config.nesterov else s['m']
      elif config.name in ('adam', 'adamw'):  # Kingma & Ba; AdamW decays outside the moments.
        g = g + decay if config.name == 'adam' else g
        s['m'] = 0.9 * s['m'] + 0.1 * g
        s['v'] = 0.999 * s['v'] + 0.001 * g ** 2
        m_hat, v_hat = s['m'] / (1 - 0.9 ** (t + 1)), s['v'] / (1 - 0.999 ** (t + 1))
        step = m_hat / (np.sqrt(v_hat) + 1e-8) + (decay if config.name == 'adamw' else 0)
      else:  # Zeiler's AdaDelta, rho 0.9, eps 1e-6.
        g = g + decay
        s['m'] = 0.9 * s['m'] + 0.1 * g ** 2
        step = np.sqrt(s['v'] + 1e-6) / np.sqrt(s['m'] + 1e-6) * g
        s['v'] = 0.9 * s['v'] + 0.1 * step ** 2
      params[k] = p - lr * step
  return params


def flat(tree):
  return {'/'.join(k.key for k in path): v for path, v in jax.tree_util.tree_leaves_with_path(tree)}


@pytest.mark.parametrize('overrides', [
    dict(name='sgd', momentum=0.0),
    dict(name='sgd', momentum=0.9),
    dict(name='sgd', momentum=0.9, nesterov=True, decay_all_params=True),
    dict(name='sgd', momentum=0.9, clip_global_norm=0.5),
    dict(name='adam', learning_rate=1e-2),
    dict(name='adamw', learning_rate=1e-2, weight_decay=0.05),
    dict(name='adadelta', learning_rate=1.0, clip_global_norm=1.0),
])
def test_optimizer_matches_its_update_rule(overrides):
  config = opt_config(**{'weight_decay': 0.1, 'schedule': 'step', 'step_epochs': 1,
                         'step_factor': 2.0} | overrides)
  schedule = optim.learning_rate_schedule(config, steps_per_epoch=2, num_epochs=3)
  rng = np.random.default_rng(0)
  params = jax.tree.map(lambda s: jnp.asarray(rng.normal(size=s), jnp.float32), SHAPES,
                        is_leaf=lambda s: isinstance(s, tuple))
  grads_seq = [jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape), jnp.float32), params)
               for _ in range(4)]
  tx = optim.create_optimizer(config, schedule)
  opt_state, current = tx.init(params), params
  for grads in grads_seq:
    updates, opt_state = tx.update(grads, opt_state, current)
    current = jax.tree.map(lambda p, u: p + u, current, updates)
  expected = reference(config, schedule, flat(params), [flat(g) for g in grads_seq])
  for name, value in flat(current).items():
    np.testing.assert_allclose(value, expected[name], rtol=2e-5, atol=2e-6, err_msg=name)


def test_weight_decay_spares_batchnorm_and_biases_unless_asked():
  params = {'conv': {'kernel': jnp.ones((3, 3, 1, 1))}, 'norm': {'scale': jnp.ones(1)},
            'head': {'bias': jnp.ones(1)}}
  zero_grads = jax.tree.map(jnp.zeros_like, params)
  for decay_all, decayed in ((False, {'conv/kernel'}), (True, {'conv/kernel', 'norm/scale',
                                                               'head/bias'})):
    config = opt_config(name='sgd', momentum=0.0, weight_decay=0.1, decay_all_params=decay_all)
    tx = optim.create_optimizer(config, lambda step: 1.0)
    updates, _ = tx.update(zero_grads, tx.init(params), params)
    changed = {k for k, u in flat(updates).items() if np.any(u != 0)}
    assert changed == decayed


@pytest.mark.parametrize('schedule,warmup,expected', [
    ('constant', 0, lambda t: 0.1),
    ('constant', 2, lambda t: 0.1 * min(t / 4, 1)),  # 2 epochs of 2 steps.
    ('cosine', 0, lambda t: 0.05 * (1 + math.cos(math.pi * t / 12))),
    ('cosine', 1, lambda t: (0.1 * t / 2 if t < 2 else
                             0.05 * (1 + math.cos(math.pi * (t - 2) / 10)))),
    ('step', 0, lambda t: 0.1 / 4.0 ** (t // 4)),  # Divided by 4 every 2 epochs.
    # One-cycle: cosine from lr/25 up to lr over 30% of the steps, then down to lr/25/1e4.
    ('onecycle', 0, lambda t: (
        0.1 / 25 + (0.1 - 0.1 / 25) * (1 - math.cos(math.pi * t / 3)) / 2 if t < 3 else
        0.1 / 25e4 + (0.1 - 0.1 / 25e4) * (1 + math.cos(math.pi * (t - 3) / 9)) / 2)),
])
def test_schedule_matches_its_closed_form(schedule, warmup, expected):
  config = opt_config(learning_rate=0.1, schedule=schedule, warmup_epochs=warmup, step_epochs=2,
                      step_factor=4.0)
  lr = optim.learning_rate_schedule(config, steps_per_epoch=2, num_epochs=6)
  for t in range(13):
    assert float(lr(t)) == pytest.approx(expected(t), rel=1e-5, abs=1e-9), t


def test_bias_lr_factor_scales_the_steps_of_vectors_but_not_their_decay():
  params = jax.tree.map(lambda s: jnp.full(s, 2.0), SHAPES, is_leaf=lambda s: isinstance(s, tuple))
  grads = jax.tree.map(lambda p: jnp.full(p.shape, 0.5), params)
  zeros = jax.tree.map(jnp.zeros_like, params)

  def first_steps(grads, **overrides):
    config = opt_config(name='sgd', momentum=0.9, nesterov=True, **overrides)
    tx = optim.create_optimizer(config, lambda step: 0.1)
    state, steps = tx.init(params), []
    for _ in range(3):  # Momentum carries the factor too.
      updates, state = tx.update(grads, state, params)
      steps.append(flat(updates))
    return steps

  plain = first_steps(grads, weight_decay=0.0)
  scaled = first_steps(grads, weight_decay=0.0, bias_lr_factor=64.0)
  for a, b in zip(plain, scaled):
    for name in a:
      factor = 1 if name.endswith('kernel') else 64
      np.testing.assert_allclose(b[name], factor * a[name], rtol=1e-6, err_msg=name)
  # Weight decay alone (zero gradients): every parameter decays as fast as without the factor.
  decay = dict(weight_decay=0.1, decay_all_params=True)
  for a, b in zip(first_steps(zeros, **decay), first_steps(zeros, bias_lr_factor=64.0, **decay)):
    for name in a:
      np.testing.assert_allclose(b[name], a[name], rtol=1e-5, err_msg=name)


def test_lookahead_moves_the_slow_weights_towards_the_fast_ones_every_k_steps():
  config = opt_config(name='sgd', momentum=0.0, weight_decay=0.0, lookahead_sync_period=3,
                      lookahead_step_size=0.25)
  tx = optim.create_optimizer(config, lambda step: 0.1)
  start = {'w': jnp.array([1.0, -2.0])}
  params = optim.initial_params(config, start)
  state = tx.init(params)
  grads_seq = [{'w': jnp.array([0.5 * t, 1.0])} for t in range(1, 7)]
  slow = fast = np.array(start['w'])
  for t, grads in enumerate(grads_seq, 1):
    np.testing.assert_allclose(optim.fast_params(params)['w'], fast, rtol=1e-6)
    updates, state = tx.update(grads, state, params)
    params = jax.tree.map(lambda p, u: p + u, params, updates)
    fast = fast - 0.1 * np.array(grads['w'])  # Plain SGD on the fast weights.
    if t % 3 == 0:  # Zhang et al.: slow += step_size * (fast - slow); fast restarts from slow.
      slow = fast = slow + 0.25 * (fast - slow)
    np.testing.assert_allclose(optim.slow_params(params)['w'], slow, rtol=1e-6)
  assert isinstance(params, optax.LookaheadParams)
  assert optim.slow_params(start) is start and optim.fast_params(start) is start
