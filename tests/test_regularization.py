"""DropBlock and feature dropout: what they drop in training, and nothing at evaluation."""

import jax
import jax.numpy as jnp
import numpy as np

from resnet_jax import models
from tests.helpers import covered_by_zero_squares, random_variables


def test_dropblock_zeroes_contiguous_blocks_at_the_rate():
  x = jnp.ones((8, 16, 16, 4))
  drop = models.DropBlock(size=3)
  out = np.asarray(jax.jit(lambda key, rate: drop.apply({}, x, rate, deterministic=False,
                                                        rngs={'dropout': key}))(
      jax.random.key(0), 0.2))
  zero = out == 0
  # Roughly the rate; blocks overlapping (and fewer seeds near borders) keep it a bit under.
  assert 0.12 < zero.mean() < 0.22, zero.mean()
  for n in range(2):
    for c in range(4):
      assert covered_by_zero_squares(zero[n, :, :, c], 3)
  np.testing.assert_allclose(out[~zero], 1 / (1 - zero.mean()), rtol=1e-5)  # Mean kept at 1.
  assert drop.apply({}, x, 0.2, deterministic=True) is x
  np.testing.assert_array_equal(
      drop.apply({}, x, 0.0, deterministic=False, rngs={'dropout': jax.random.key(1)}), x)


def test_regularized_model_is_the_plain_model_at_evaluation():
  design = dict(blocks=(1, 1), channels=(4, 8), conv_kernels=(3, 3), skip_kernels=(1, 1))
  plain = models.ResNet(**design)
  regularized = models.ResNet(**design, dropblock_size=3, dropout=0.5)
  x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype(np.float32)
  variables = random_variables(plain)
  assert models.trainable_params(regularized) == models.trainable_params(plain)

  @jax.jit
  def logits(key):
    evaluated = regularized.apply(variables, x, dropblock_rate=0.3)
    trained = regularized.apply(variables, x, train=True, dropblock_rate=0.3,
                                mutable=['batch_stats'], rngs={'dropout': key})[0]
    return evaluated, plain.apply(variables, x), trained

  evaluated, plain_logits, trained = logits(jax.random.key(2))
  np.testing.assert_array_equal(evaluated, plain_logits)
  assert not np.allclose(trained, logits(jax.random.key(3))[2])
