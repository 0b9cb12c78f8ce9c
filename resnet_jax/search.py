"""Designs under the parameter budget: a grid over (N, B_i, C_i, F_i, K_i, P), or compound scaling.

The design space that `study` samples trials from, each design's exact parameter count (no model
is built for it), and the preview (`--config.search.preview=True`): the designs that fit
`config.model.max_params`, the largest first, with their FLOPs per image and depth.
"""

import functools
import itertools
import math
import time

from absl import logging

from resnet_jax import cifar10, designs, models, validation
from resnet_jax.errors import ConfigError


@functools.cache
def _twin_counts(channels, conv_kernel, skip_kernel, pool, bn_scale, whitening):
  """Parameters of the design with two blocks per layer, and of each layer's second block.

  Every block after a layer's first has the same parameters, so a design's count is affine in
  its block counts and one abstract init prices every B_i for these (C, F, K, P).
  """
  n = len(channels)
  params = models.abstract_variables(models.ResNet(
      blocks=(2,) * n, channels=channels, conv_kernels=conv_kernel, skip_kernels=skip_kernel,
      pool=pool, bn_scale=bn_scale, whitening=whitening))['params']
  return models.count_params(params), tuple(
      models.count_params(params[f'layer{i + 1}_block2']) for i in range(n))


def count_params(design: designs.Design, model_config) -> int:
  """The design's trainable parameters with `config.model`'s other options (equal to
  `models.trainable_params` of its model)."""
  twin, repeated = _twin_counts(design.channels, design.conv_kernel, design.skip_kernel,
                                design.pool, model_config.bn_scale, model_config.whitening)
  return twin + sum((b - 2) * r for b, r in zip(design.blocks, repeated))


def final_size(num_layers: int) -> int:
  """The side of the last feature map of an N-layer design (each layer after the first halves
  it)."""
  return math.ceil(cifar10.IMAGE_SHAPE[0] / 2 ** (num_layers - 1))


def _pools(pool_choices, num_layers: int) -> list[int]:
  """The pool sizes that fit the last feature map of an N-layer design."""
  return [p for p in pool_choices if p <= final_size(num_layers)]


def no_pool_error(search_config) -> ConfigError:
  s = search_config
  return ConfigError(f'config.search.pool={s.pool!r}: no pool size fits the last feature map '
                     f'of any design with config.search.num_layers={s.num_layers!r} (with N '
                     'layers it is 32 / 2^(N-1) pixels wide); add 0 for global pooling')


def num_grid_designs(search_config) -> int:
  """How many designs the ranges describe, computed without listing them."""
  s = search_config
  return len(s.channels) * sum(
      (len(s.blocks) * len(s.conv_kernel) * len(s.skip_kernel)) ** n * len(_pools(s.pool, n))
      for n in s.num_layers)


def grid(search_config, model_config) -> list[tuple[int, designs.Design]]:
  """(parameters, design) for every design from the ranges within config.model.max_params.

  C_1 comes from `channels` and each later layer doubles it, as in every source design;
  B_i, F_i and K_i are chosen independently per layer.
  """
  s, budget = search_config, model_config.max_params
  total = num_grid_designs(s)
  if not total:
    raise no_pool_error(s)
  if total > s.max_designs:
    raise ConfigError(f'the search ranges give {total:,} designs, more than '
                      f'config.search.max_designs={s.max_designs:,}; narrow the ranges '
                      '(or raise max_designs)')
  rows = []
  for n in s.num_layers:
    for c1, f, k, p in itertools.product(s.channels, itertools.product(s.conv_kernel, repeat=n),
                                         itertools.product(s.skip_kernel, repeat=n),
                                         _pools(s.pool, n)):
      channels = designs.doubling(c1, n)
      for blocks in itertools.product(s.blocks, repeat=n):
        design = designs.Design(blocks, channels, f, k, p)
        count = count_params(design, model_config)
        if not budget or count <= budget:
          rows.append((count, design))
  if not rows:
    raise ConfigError(f'none of the {total:,} designs from config.search fits the budget of '
                      f'{budget:,} parameters (config.model.max_params); allow smaller designs')
  return rows


def scaled(base: designs.Design, search_config, phi: float) -> designs.Design:
  """EfficientNet's compound scaling: depth x alpha^phi (rounded up), width x beta^phi."""
  depth = search_config.depth_coefficient ** phi
  width = search_config.width_coefficient ** phi
  return base._replace(blocks=tuple(max(1, math.ceil(b * depth)) for b in base.blocks),
                       channels=tuple(max(1, round(c * width)) for c in base.channels))


def compound(search_config, model_config) -> list[tuple[int, designs.Design, float]]:
  """(parameters, design, phi) down the scaling path of config.model, from the largest phi
  (a multiple of phi_step) whose design fits config.model.max_params: `rows` distinct designs.
  """
  s, budget = search_config, model_config.max_params
  base = designs.Design.of(model_config)
  counts = {}

  def size(k: int) -> int:  # Parameters at phi = k * phi_step; they never fall as k grows.
    if k not in counts:
      counts[k] = count_params(scaled(base, s, k * s.phi_step), model_config)
    return counts[k]

  ones = (1,) * len(base.blocks)  # Where the path ends as phi falls.
  floor = base._replace(blocks=ones if s.depth_coefficient > 1 else base.blocks,
                        channels=ones if s.width_coefficient > 1 else base.channels)
  if count_params(floor, model_config) > budget:
    raise ConfigError(f'even the smallest design on the scaling path of config.model has '
                      f'{count_params(floor, model_config):,} parameters, over the budget of '
                      f'{budget:,} (config.model.max_params)')
  # Bracket the last step that fits between lo (fits) and hi (does not), then bisect.
  if size(0) <= budget:
    lo, hi = 0, 1
    while size(hi) <= budget:
      lo, hi = hi, 2 * hi
  else:
    lo, hi = -1, 0
    while size(lo) > budget:
      lo, hi = 2 * lo, lo
  while hi - lo > 1:
    mid = (lo + hi) // 2
    lo, hi = (mid, hi) if size(mid) <= budget else (lo, mid)
  rows, k = [], lo
  while (not s.rows or len(rows) < s.rows) and (not rows or rows[-1][1] != floor):
    design = scaled(base, s, k * s.phi_step)
    if not rows or design != rows[-1][1]:
      rows.append((size(k), design, k * s.phi_step))
    k -= 1
  return rows


def preview(config) -> tuple[str, list[dict]]:
  """The designs by size, largest first (config.search.preview): a title and the rows
  ({'params', 'design', 'phi', 'flops'}), the first config.search.rows of them."""
  validation.check_search(config)
  s = config.search
  start = time.time()
  fit = (f'within {config.model.max_params:,} parameters' if config.model.max_params
         else 'with no parameter budget')
  if s.scale == 'grid':
    found = [(count, design, None) for count, design in grid(s, config.model)]
    title = f'{num_grid_designs(s):,} designs from the config.search ranges, {len(found):,} {fit}'
  else:
    found = compound(s, config.model)
    title = (f'config.model scaled by {s.depth_coefficient}^phi in depth and '
             f'{s.width_coefficient}^phi in width, phi in steps of {s.phi_step:g}: the largest '
             f'design {fit} and those below it on the path')
  found.sort(key=lambda row: (-row[0], row[1]))
  found = found[:s.rows or None]
  rows = [{'params': count, 'design': design, 'phi': phi} for count, design, phi in found]
  counted = time.time() - start
  for row in rows:
    row['flops'] = models.flops_per_image(models.create_model(row['design'].apply(config).model))
  logging.info('Preview: designs counted in %.1fs, FLOPs of %d in %.1fs.', counted, len(rows),
               time.time() - start - counted)
  return title, rows


def preview_text(title: str, rows: list[dict], config_file: str | None = None) -> str:
  """The preview for a person: the title, the table and the command that trains the first
  (`config_file` as given to --config)."""
  first = rows[0]['design']
  command = (f'python launch.py --config {config_file} --workdir runs/{first.name} '
             f'{first.overrides()}' if config_file else f'your config plus {first.overrides()}')
  return f'{title}; largest first:\n{table(rows)}\nTrain the first: {command}'


def table(rows: list[dict]) -> str:
  """Rows as an aligned text table; a phi column where rows have one."""
  columns = ['#', 'params', 'MFLOPs/image', 'depth', 'N', 'B', 'C', 'F', 'K', 'P']
  if any(row['phi'] is not None for row in rows):
    columns.append('phi')
  lines = [columns]
  for i, row in enumerate(rows, 1):
    f = row['design'].fields()
    line = [str(i), f'{row["params"]:,}', f'{row["flops"] / 1e6:,.1f}', str(row['design'].depth),
            str(len(row['design'].blocks)), f['blocks'], f['channels'], f['conv_kernel'],
            f['skip_kernel'], f['pool']]
    if 'phi' in columns:
      line.append(f'{row["phi"]:g}')
    lines.append(line)
  widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
  return '\n'.join('  '.join(cell.rjust(w) if j < 4 else cell.ljust(w)
                             for j, (cell, w) in enumerate(zip(line, widths))).rstrip()
                   for line in lines)
