"""Exact parameter counts of every source design, and forward shapes across the design space."""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from resnet_jax import models, validation

SOURCE_DESIGNS = {
    'resnet24': 4_918_602,
    'resnet14_c128': 4_435_082,
    'resnet24_c50': 4_257_260,
    'resnet18_c32': 2_797_610,
    'resnet12': 4_977_226,
}


@pytest.mark.parametrize('name,expected', SOURCE_DESIGNS.items())
def test_source_design_parameter_count(name, expected):
  config = importlib.import_module(f'configs.{name}').get_config()
  assert validation.check_model(config.model) == expected
  assert models.trainable_params(models.create_model(config.model)) == expected


@pytest.mark.parametrize('blocks,channels,conv,skip,pool,feature_hw', [
    ((1,), (8,), 3, 1, 0, 32),
    ((1, 2), (4, 8), 5, 3, 4, 16),
    ((2, 1, 1), (4, 8, 16), (3, 5, 3), (1, 3, 1), 8, 8),
    ((1, 1, 1, 1), (4, 4, 8, 8), 3, 2, 4, 4),
])
def test_forward_shapes(blocks, channels, conv, skip, pool, feature_hw):
  model = models.ResNet(blocks=blocks, channels=channels,
                        conv_kernels=models.per_layer(conv, len(blocks)),
                        skip_kernels=models.per_layer(skip, len(blocks)), pool=pool)
  x = jnp.ones((2, 32, 32, 3))
  variables = model.init(jax.random.key(0), x)
  logits = model.apply(variables, x)
  assert logits.shape == (2, 10)
  pooled = feature_hw // pool if pool else 1
  assert variables['params']['head']['kernel'].shape == (channels[-1] * pooled ** 2, 10)
  logits, updates = model.apply(variables, x, train=True, mutable=['batch_stats'])
  assert logits.shape == (2, 10) and 'batch_stats' in updates


def test_shortcut_is_a_strided_conv_only_where_shapes_change():
  model = models.ResNet(blocks=(2, 2), channels=(4, 8), conv_kernels=(3, 3),
                        skip_kernels=(1, 3))
  params = models.abstract_variables(model)['params']
  assert 'shortcut_conv' not in params['layer1_block1']
  assert 'shortcut_conv' not in params['layer2_block2']
  assert params['layer2_block1']['shortcut_conv']['kernel'].shape == (3, 3, 4, 8)


def test_count_by_hand_for_a_small_design():
  model = models.ResNet(blocks=(1, 1), channels=(4, 8), conv_kernels=(3, 3), skip_kernels=(1, 1))
  stem = 3 * 3 * 3 * 4 + 2 * 4
  layer1 = 2 * (3 * 3 * 4 * 4 + 2 * 4)
  layer2 = 3 * 3 * 4 * 8 + 3 * 3 * 8 * 8 + 2 * 2 * 8 + (4 * 8 + 2 * 8)
  head = 8 * 10 + 10
  assert models.trainable_params(model) == stem + layer1 + layer2 + head


def test_select_relu_model_matches_the_plain_one_forward_and_gradients():
  kwargs = dict(blocks=(1, 2), channels=(4, 8), conv_kernels=(3, 3), skip_kernels=(1, 1))
  plain = models.ResNet(**kwargs)
  other = models.ResNet(relu=models.select_relu, **kwargs)
  x = jax.random.normal(jax.random.key(1), (4, 8, 8, 3))
  variables = plain.init(jax.random.key(0), x)
  assert jax.tree.structure(other.init(jax.random.key(0), x)) == jax.tree.structure(variables)

  def loss_and_stats(model, params, x):
    logits, updates = model.apply({**variables, 'params': params}, x, train=True,
                                  mutable=['batch_stats'])
    return jnp.sum(jnp.sin(logits)), (logits, updates)

  grad = jax.jit(jax.grad(loss_and_stats, argnums=(1, 2), has_aux=True), static_argnums=0)
  results = [grad(model, variables['params'], x) for model in (plain, other)]
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), *results)
