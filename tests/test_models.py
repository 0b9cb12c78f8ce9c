"""Exact parameter counts of every source design, and forward shapes across the design space."""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from resnet_jax import defaults, models, validation

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
  other = models.ResNet(activation=models.select_relu, **kwargs)
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


def test_dirac_init_makes_a_fresh_conv_pass_its_input_channels_through():
  conv = models.nn.Conv(6, (3, 3), use_bias=False, kernel_init=models.dirac_init())
  x = jax.random.normal(jax.random.key(1), (2, 8, 8, 4))
  y = conv.apply(conv.init(jax.random.key(0), x), x)
  np.testing.assert_allclose(y[..., :4], x, rtol=1e-6)  # Filters 4, 5 keep the random init.
  assert np.abs(y[..., 4:]).mean() > 0.1
  narrow = models.nn.Conv(2, (1, 1), strides=2, kernel_init=models.dirac_init())
  y = narrow.apply(narrow.init(jax.random.key(0), x), x)
  np.testing.assert_allclose(y, x[:, ::2, ::2, :2], rtol=1e-6)


def model_config(**overrides):
  config = defaults.get_config().model
  config.update(dict(blocks=(1, 2), channels=(4, 8)) | overrides)
  return config


def test_gelu_model_differs_from_the_relu_one_only_in_its_activation():
  x = jax.random.normal(jax.random.key(1), (4, 8, 8, 3))
  relu, gelu = (models.create_model(model_config(activation=a)) for a in ('relu', 'gelu'))
  variables = relu.init(jax.random.key(0), x)
  assert jax.tree.structure(gelu.init(jax.random.key(0), x)) == jax.tree.structure(variables)
  by_hand = relu.clone(activation=lambda y: y * jax.scipy.stats.norm.cdf(y))
  np.testing.assert_allclose(gelu.apply(variables, x), by_hand.apply(variables, x), rtol=1e-5,
                             atol=1e-6)
  assert not np.allclose(gelu.apply(variables, x), relu.apply(variables, x), atol=1e-3)


def test_dirac_init_and_gelu_keep_the_parameter_count_a_frozen_bn_scale_drops_it():
  count = models.trainable_params(models.create_model(model_config()))
  for option in (dict(activation='gelu'), dict(dirac_init=True)):
    assert models.trainable_params(models.create_model(model_config(**option))) == count
  frozen = models.create_model(model_config(bn_scale=False))
  stem_and_blocks = 4 + 2 * 4 + 2 * (2 * 8) + 8  # BatchNorm channels, shortcut norm included.
  assert models.trainable_params(frozen) == count - stem_and_blocks
  params = models.abstract_variables(frozen)['params']
  assert 'scale' not in params['stem_norm'] and 'bias' in params['stem_norm']


def test_dirac_model_starts_with_identity_filters():
  variables = models.create_model(model_config(dirac_init=True)).init(
      jax.random.key(0), jnp.zeros((1, 8, 8, 3)))
  kernel = variables['params']['layer2_block1']['Conv_0']['kernel']  # 3x3, 4 -> 8 channels.
  np.testing.assert_array_equal(kernel[:, :, :, :4], np.eye(4)[None, None] * np.pad(
      np.ones((1, 1)), 1)[:, :, None, None])


def test_whitening_kernel_decorrelates_the_patches_of_its_images():
  rng = np.random.default_rng(0)
  mixing = rng.normal(size=(3, 3))  # Correlated channels, smooth in space: far from white.
  images = rng.normal(size=(64, 9, 9, 3)) @ mixing
  images = images + np.roll(images, 1, axis=1) + np.roll(images, 1, axis=2)
  kernel = models.patch_whitening_kernel(images, eps=1e-6)
  assert kernel.shape == (2, 2, 3, 24)
  np.testing.assert_array_equal(kernel[..., 12:], -kernel[..., :12])
  layer = models.PatchWhitening()
  variables = layer.init(jax.random.key(0), jnp.zeros((1, 9, 9, 3)))
  variables['batch_stats']['kernel'] = kernel
  outputs = np.asarray(layer.apply(variables, jnp.asarray(images, jnp.float32)))
  assert outputs.shape == (64, 9, 9, 24)
  outputs = outputs[:, :8, :8]  # Whole patches: the last row and column meet the padding.
  whitened = outputs[..., :12].reshape(-1, 12)
  np.testing.assert_allclose(whitened.T @ whitened / len(whitened), np.eye(12), atol=1e-3)
  # With a large eps each direction keeps variance eigenvalue / (eigenvalue + eps): the
  # largest-variance directions come first.
  variables['batch_stats']['kernel'] = models.patch_whitening_kernel(images, eps=1.0)
  outputs = np.asarray(layer.apply(variables, jnp.asarray(images, jnp.float32)))[:, :8, :8]
  variances = np.mean(outputs[..., :12].reshape(-1, 12) ** 2, axis=0)  # Uncentred, as the kernel.
  patches = np.lib.stride_tricks.sliding_window_view(images, (2, 2), axis=(1, 2))
  patches = patches.reshape(-1, 12)
  eigenvalues = np.linalg.eigvalsh(patches.T @ patches / len(patches))[::-1]
  np.testing.assert_allclose(variances, eigenvalues / (eigenvalues + 1), rtol=0.05)
  assert np.all(np.diff(variances) < 0)


def test_whitening_stem_is_fixed_and_prices_only_its_biases_and_wider_stem_conv():
  plain, whitened = (models.create_model(model_config(whitening=w)) for w in (False, True))
  variables = models.abstract_variables(whitened)
  assert variables['batch_stats']['stem_whitening']['kernel'].shape == (2, 2, 3, 24)
  assert variables['params']['stem_whitening']['bias'].shape == (24,)
  assert variables['params']['stem_conv']['kernel'].shape == (3, 3, 24, 4)
  assert (models.trainable_params(whitened)
          == models.trainable_params(plain) + 24 + 3 * 3 * (24 - 3) * 4)
  x = jnp.ones((2, 32, 32, 3))
  logits, updates = whitened.apply(whitened.init(jax.random.key(0), x), x, train=True,
                                   mutable=['batch_stats'])
  assert logits.shape == (2, 10)
  np.testing.assert_array_equal(updates['batch_stats']['stem_whitening']['kernel'], 0)

