"""The resolved config of a run, kept as `<workdir>/config.json`, so that evaluating, plotting,
summarizing or resuming a run needs only its --workdir."""

import copy
import json
import os

import ml_collections
from absl import logging

from resnet_jax import atomic_files

FILENAME = 'config.json'


def save(config, workdir: str) -> str:
  """Writes `config` (overrides applied) to `workdir/config.json`; returns the path."""
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, FILENAME)
  return atomic_files.write(path, config.to_json(indent=2, sort_keys=True) + '\n')


def flat(config) -> dict:
  """The config's fields by their dotted names, as JSON has them (lists for tuples):
  {'model.blocks': [3, 5, 3], ...}."""
  def walk(tree, prefix):
    for name, value in tree.items():
      if isinstance(value, dict):
        yield from walk(value, f'{prefix}{name}.')
      else:
        yield f'{prefix}{name}', value
  return dict(walk(json.loads(config.to_json()), ''))


def _tuples(value):
  """JSON's lists back to the tuples configs use (blocks, channels, per-layer kernels)."""
  if isinstance(value, dict):
    return {k: _tuples(v) for k, v in value.items()}
  return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _known(saved: dict, defaults: ml_collections.ConfigDict, path: str,
           prefix: str = 'config.') -> dict:
  """`saved` without the fields that `defaults` no longer has, each dropped with a warning."""
  known = {}
  for name, value in saved.items():
    if name not in defaults:
      logging.warning('Ignoring %s%s=%r in %s: it is no longer a config field.',
                      prefix, name, value, path)
    elif isinstance(value, dict) and isinstance(defaults[name], ml_collections.ConfigDict):
      known[name] = _known(value, defaults[name], path, f'{prefix}{name}.')
    else:
      known[name] = value
  return known


def load(workdir: str, defaults: ml_collections.ConfigDict | None = None
         ) -> ml_collections.ConfigDict | None:
  """The config saved in `workdir` (locked, like --config's), or None if there is none.

  With `defaults` (`defaults.get_config()`), the saved config is merged onto them, so that a config
  an older version of the project wrote still loads: a field it lacks takes its default, which
  keeps the old behaviour, and a field that no longer exists is dropped, with a warning.
  """
  path = os.path.join(workdir, FILENAME)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    saved = _tuples(json.load(f))
  if defaults is None:
    return ml_collections.ConfigDict(saved).lock()
  config = copy.deepcopy(defaults)
  config.update(ml_collections.ConfigDict(_known(saved, defaults, path)))
  return config.lock()
