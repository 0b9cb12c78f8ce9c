"""A ResNet design (N, B_i, C_i, F_i, K_i, P) and its notations: the one way a design is written
in tables and lines, named as a folder, and given as command-line overrides."""

import copy
from typing import NamedTuple

from resnet_jax import models


def doubling(first: int, num_layers: int) -> tuple[int, ...]:
  """C_i of `num_layers` layers from C_1 = `first`, each layer doubling it, as a search draws
  them."""
  return tuple(first * 2 ** i for i in range(num_layers))


class Design(NamedTuple):
  """A ResNet shape: B_i, C_i, F_i and K_i per residual layer, and the pool size P."""
  blocks: tuple[int, ...]
  channels: tuple[int, ...]
  conv_kernel: tuple[int, ...]
  skip_kernel: tuple[int, ...]
  pool: int

  @classmethod
  def of(cls, model_config) -> 'Design':
    n = len(model_config.blocks)
    return cls(tuple(model_config.blocks), tuple(model_config.channels),
               models.per_layer(model_config.conv_kernel, n),
               models.per_layer(model_config.skip_kernel, n), model_config.pool)

  @property
  def depth(self) -> int:
    """Conv and Dense layers on the longest path, as ResNet-18 counts its 18."""
    return 2 * sum(self.blocks) + 2

  def fields(self) -> dict[str, str]:
    """The design as config.model override values: comma lists, one number where all agree."""
    def text(values):
      return str(values[0]) if len(set(values)) == 1 else ','.join(map(str, values))
    return {'blocks': ','.join(map(str, self.blocks)),
            'channels': ','.join(map(str, self.channels)),
            'conv_kernel': text(self.conv_kernel), 'skip_kernel': text(self.skip_kernel),
            'pool': str(self.pool)}

  @property
  def name(self) -> str:
    """A folder name, e.g. B3-5-3_C64-128-256_F3_K1_P0."""
    f = self.fields()
    return '_'.join(f'{key}{f[field].replace(",", "-")}' for key, field in
                    zip('BCFKP', ('blocks', 'channels', 'conv_kernel', 'skip_kernel', 'pool')))

  @property
  def text(self) -> str:
    """The design in the notation of docs/designs.md, e.g. 'B=3,5,3 C=64,128,256 F=3 K=1
    P=global'."""
    f = self.fields()
    return (f'B={f["blocks"]} C={f["channels"]} F={f["conv_kernel"]} K={f["skip_kernel"]} '
            f'P={self.pool or "global"}')

  def overrides(self) -> str:
    return ' '.join(f'--config.model.{k}={v}' for k, v in self.fields().items())

  def apply(self, config):
    """A copy of `config` whose model is this design."""
    config = copy.deepcopy(config)  # Unlike copy_and_resolve_references, keeps field types.
    for field, value in self._asdict().items():
      config.model[field] = value
    return config
