"""The parameterized CIFAR ResNet (Flax, NHWC) and its trainable-parameter count."""

import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from clu import parameter_overview

from resnet_jax import cifar10, cpu_tuning
ACTIVATIONS = ('relu', 'gelu')


def select_relu(x):
  """ReLU as a select, which XLA:CPU keeps in memory instead of recomputing it.

  XLA copies a cheap single-input op such as `nn.relu`'s max, and what feeds it, into every
  consumer. In the backward pass one consumer is the transpose before each weight-gradient
  convolution, and on CPU a transpose with arithmetic fused in runs several times slower than a
  plain copy. A select reads two arrays, so XLA computes it once. Values and gradients are
  `nn.relu`'s.
  """
  return jnp.where(x > 0, x, 0)


# The ReLU forms; config.model.relu is one of them, or 'auto' (see `cpu_tuning.relu_form`).
RELUS = {'max': nn.relu, 'select': select_relu}


def dirac_init(base_init=nn.linear.default_kernel_init):
  """A conv kernel init whose first min(C_in, C_out) filters are identities (PyTorch's
  `dirac_`, as airbench): filter i copies input channel i through its centre tap, so a fresh
  conv passes its input on (subsampled if strided); the other filters keep `base_init`."""
  def init(key, shape, dtype=jnp.float32):
    kernel = base_init(key, shape, dtype)
    height, width, c_in, c_out = shape
    n = min(c_in, c_out)
    kernel = kernel.at[..., :n].set(0)
    return kernel.at[height // 2, width // 2, jnp.arange(n), jnp.arange(n)].set(1)
  return init


def patch_whitening_kernel(images: np.ndarray, eps: float = 5e-4) -> np.ndarray:
  """A 2x2 conv kernel (2, 2, 3, 24) that whitens the patches of normalized `images` (NHWC).

  As airbench: the eigenvectors of the 2x2x3 patches' (uncentred) covariance, each divided by
  the square root of its eigenvalue (+ `eps`), largest first, then the same 12 negated, so a
  ReLU or GELU after it loses nothing. The first layer then starts from decorrelated inputs.
  """
  channels = images.shape[-1]
  size = 2 * 2 * channels
  covariance, count = np.zeros((size, size)), 0
  for start in range(0, len(images), 500):  # In pieces: all patches at once take ~0.5 GB.
    chunk = np.asarray(images[start:start + 500], np.float64)
    patches = np.lib.stride_tricks.sliding_window_view(chunk, (2, 2), axis=(1, 2))
    patches = patches.transpose(0, 1, 2, 4, 5, 3).reshape(-1, size)  # (h, w, c) of each patch.
    covariance, count = covariance + patches.T @ patches, count + len(patches)
  eigenvalues, eigenvectors = np.linalg.eigh(covariance / count)
  scaled = (eigenvectors / np.sqrt(eigenvalues + eps))[:, ::-1].reshape(2, 2, channels, size)
  return np.concatenate([scaled, -scaled], axis=-1).astype(np.float32)


class PatchWhitening(nn.Module):
  """A fixed 2x2 conv from `patch_whitening_kernel`, plus a trained bias. One row and column of
  zeros (the mean colour) below and right keep the image's size.

  The kernel lives in the 'batch_stats' collection: like BatchNorm's running statistics it is a
  statistic of the training data, not trained, and not counted in the budget, and it travels
  with the state into checkpoints. It starts at zero; `steps.create_train_state` sets it.
  """
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    patch = 2 * 2 * x.shape[-1]
    kernel = self.variable('batch_stats', 'kernel', jnp.zeros, (2, 2, x.shape[-1], 2 * patch))
    bias = self.param('bias', nn.initializers.zeros, (kernel.value.shape[-1],))
    y = jax.lax.conv_general_dilated(x.astype(self.dtype), kernel.value.astype(self.dtype),
                                     (1, 1), ((0, 1), (0, 1)),
                                     dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    return y + bias.astype(self.dtype)


class BasicBlock(nn.Module):
  """Two FxF convs with BatchNorm, plus an identity or KxK strided-conv shortcut."""
  channels: int
  conv_kernel: int
  skip_kernel: int
  strides: int
  norm: Any
  activation: Callable
  dtype: Any = jnp.float32
  kernel_init: Any = nn.linear.default_kernel_init

  @nn.compact
  def __call__(self, x):
    conv = functools.partial(nn.Conv, self.channels, use_bias=False, padding='SAME',
                             dtype=self.dtype, kernel_init=self.kernel_init)
    f = (self.conv_kernel, self.conv_kernel)
    y = self.activation(self.norm()(conv(f, strides=self.strides)(x)))
    y = self.norm()(conv(f)(y))
    shortcut = x
    if self.strides != 1 or x.shape[-1] != self.channels:
      k = (self.skip_kernel, self.skip_kernel)
      shortcut = self.norm(name='shortcut_norm')(
          conv(k, strides=self.strides, name='shortcut_conv')(x))
    return self.activation(y + shortcut)


class DropBlock(nn.Module):
  """DropBlock (Ghiasi et al., 2018): drops whole size x size squares of each feature map.

  Dropout of single activations barely regularizes convolutions, whose neighbours carry the same
  information. Block seeds fall where a whole block fits; their rate gamma makes about `rate` of
  the activations drop, and the kept ones are rescaled by the kept fraction, as in the paper.
  """
  size: int

  @nn.compact
  def __call__(self, x, rate, deterministic: bool):
    if deterministic:
      return x
    n, height, width, channels = x.shape
    seeds_h, seeds_w = height - self.size + 1, width - self.size + 1
    gamma = rate / self.size ** 2 * height * width / (seeds_h * seeds_w)
    seeds = jax.random.bernoulli(self.make_rng('dropout'), gamma, (n, seeds_h, seeds_w, channels))
    pad = self.size - 1
    seeds = jnp.pad(seeds.astype(x.dtype), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    keep = 1 - nn.max_pool(seeds, (self.size, self.size))
    return x * keep * (keep.size / jnp.maximum(keep.sum(), 1))


class ResNet(nn.Module):
  """Stem, N residual layers of B_i blocks of width C_i, average pool P, Dense to the 10 classes.

  `whitening` puts a fixed patch-whitening layer and the activation before the stem conv.

  `pool` 0 means global average pooling; otherwise a PxP window with stride P. In training,
  `dropblock_size` > 0 puts DropBlock (at the rate the caller passes) after every residual block,
  and `dropout` drops pooled features before the classifier; neither has parameters.
  """
  blocks: Sequence[int]
  channels: Sequence[int]
  conv_kernels: Sequence[int]
  skip_kernels: Sequence[int]
  pool: int = 0
  dropblock_size: int = 0
  dropout: float = 0.0
  # nn.relu, `select_relu` (the same values, faster on CPU), or a GELU.
  activation: Callable = nn.relu
  bn_scale: bool = True  # False: BatchNorm's scale is fixed at 1 (no parameter).
  whitening: bool = False  # A `PatchWhitening` layer first.
  kernel_init: Any = nn.linear.default_kernel_init  # Of every conv.
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False, dropblock_rate=0.0):
    norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=0.9,
                             epsilon=1e-5, use_scale=self.bn_scale, dtype=self.dtype)
    x = x.astype(self.dtype)
    if self.whitening:
      x = self.activation(PatchWhitening(dtype=self.dtype, name='stem_whitening')(x))
    x = nn.Conv(self.channels[0], (3, 3), use_bias=False, padding='SAME', dtype=self.dtype,
                kernel_init=self.kernel_init, name='stem_conv')(x)
    x = self.activation(norm(name='stem_norm')(x))
    for i, (num_blocks, width) in enumerate(zip(self.blocks, self.channels)):
      for j in range(num_blocks):
        x = BasicBlock(width, self.conv_kernels[i], self.skip_kernels[i],
                       strides=2 if i > 0 and j == 0 else 1, norm=norm,
                       activation=self.activation, dtype=self.dtype,
                       kernel_init=self.kernel_init, name=f'layer{i + 1}_block{j + 1}')(x)
        if self.dropblock_size:
          x = DropBlock(self.dropblock_size)(x, dropblock_rate, deterministic=not train)
    if self.pool:
      x = nn.avg_pool(x, (self.pool, self.pool), strides=(self.pool, self.pool))
      x = x.reshape(x.shape[0], -1)
    else:
      x = jnp.mean(x, axis=(1, 2))
    if self.dropout:
      x = nn.Dropout(self.dropout, deterministic=not train)(x)
    return nn.Dense(cifar10.NUM_CLASSES, dtype=self.dtype, name='head')(x).astype(jnp.float32)


def per_layer(value, num_layers: int) -> tuple[int, ...]:
  """An int, or one int per layer, as a tuple of one int per layer."""
  return tuple(value) if isinstance(value, (tuple, list)) else (value,) * num_layers


def create_model(model_config, *, half_precision: bool = False) -> ResNet:
  """The ResNet that `config.model` describes (validate it first: `validation.check_model`): the
  one place a model is built from a config.

  Its ReLU form (`RELUS`) is config.model.relu resolved for the backend (`cpu_tuning.relu_form`;
  either form has the same values and parameters); `half_precision` computes in bf16.
  """
  activation = (functools.partial(nn.gelu, approximate=False) if model_config.activation == 'gelu'
                else RELUS[cpu_tuning.relu_form(model_config.relu)])
  n = len(model_config.blocks)
  return ResNet(blocks=tuple(model_config.blocks), channels=tuple(model_config.channels),
                conv_kernels=per_layer(model_config.conv_kernel, n),
                skip_kernels=per_layer(model_config.skip_kernel, n), pool=model_config.pool,
                dropblock_size=model_config.dropblock_size if model_config.dropblock_rate else 0,
                dropout=model_config.dropout,
                activation=activation, bn_scale=model_config.bn_scale,
                whitening=model_config.whitening,
                kernel_init=(dirac_init() if model_config.dirac_init
                             else nn.linear.default_kernel_init),
                dtype=jnp.bfloat16 if half_precision else jnp.float32)


def abstract_variables(model: ResNet):
  """Shapes and dtypes of the model's variables, computed without running it."""
  x = jax.ShapeDtypeStruct((1, *cifar10.IMAGE_SHAPE), jnp.float32)
  return jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros(x.shape, x.dtype)))


def count_params(params) -> int:
  """Number of scalars in a parameter tree (arrays or shape structs), as a Python int."""
  return int(parameter_overview.count_parameters(params))


def trainable_params(model: ResNet) -> int:
  """Trainable parameters, those the optimizer updates: conv kernels, BatchNorm biases and
  scales (unless fixed at 1: `bn_scale`), Dense kernel and bias."""
  return count_params(abstract_variables(model)['params'])


def layer_table(model: ResNet) -> tuple[str, int]:
  """Each named layer's output shape and trainable parameters, in call order; and their total.

  One trace with abstract shapes (nothing runs or compiles); the stem, every residual block and
  the head are one row each.
  """
  calls = []  # (name, output shape) of the top-level layers, as they are called.

  def record(call, args, kwargs, context):
    output = call(*args, **kwargs)
    if context.method_name == '__call__' and len(context.module.path) == 1:
      calls.append((context.module.path[0], output.shape[1:]))
    return output

  with nn.intercept_methods(record):
    params = abstract_variables(model)['params']
  rows = [('layer', 'output shape', 'parameters')]
  rows += [(name, 'x'.join(map(str, shape)), f'{count_params(params[name]):,}')
           for name, shape in calls if name in params]
  widths = [max(len(row[i]) for row in rows) for i in range(3)]
  return '\n'.join(f'{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}'.rstrip()
                   for a, b, c in rows), count_params(params)


def flops_per_image(model: ResNet) -> float:
  """XLA's count of floating-point operations in the forward pass of one image (eval mode)."""
  image = jax.ShapeDtypeStruct((1, *cifar10.IMAGE_SHAPE), jnp.float32)
  forward = jax.jit(functools.partial(model.apply, train=False))
  return forward.lower(abstract_variables(model), image).cost_analysis()['flops']
