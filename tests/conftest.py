"""Shared test helpers: a tiny config and the location of the real CIFAR-10 subset."""

import os
import pathlib
import pickle
import shutil
import tempfile

# On the CPU, here and in the launch.py subprocesses (which inherit it), even where there is an
# accelerator: each pytest-xdist worker's JAX would take 75% of a GPU's memory. Opt in with
# RESNET_JAX_TEST_GPU=1. Set before JAX is imported.
if os.environ.get('RESNET_JAX_TEST_GPU') != '1':
  os.environ['JAX_PLATFORMS'] = 'cpu'

import jax  # pylint: disable=g-import-not-at-top
import numpy as np
import pytest

from configs import tiny
from resnet_jax import cpu_tuning, models

cpu_tuning.use_fast_cpu_flags()  # As launch.py does, before JAX starts: tests run what users run.

ROOT = pathlib.Path(__file__).resolve().parents[1]
REAL_SUBSET = pathlib.Path(os.environ.get('RESNET_JAX_SHARED_DATA', ROOT.parent / 'shared' / 'data')
                           ) / 'cifar10_real'


def pytest_configure(config):
  """One XLA compilation cache for the session, shared with the launch.py subprocesses (and
  pytest-xdist workers, which inherit it), removed at the end of the session."""
  if 'JAX_COMPILATION_CACHE_DIR' not in os.environ:
    cache = tempfile.mkdtemp(prefix='jax_cache_')
    os.environ['JAX_COMPILATION_CACHE_DIR'] = cache
    config.add_cleanup(lambda: shutil.rmtree(cache, ignore_errors=True))
  os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')
  os.environ['XDG_CACHE_HOME'] = tempfile.mkdtemp(prefix='cache_')  # Never the user's cache.


def tiny_config(**overrides):
  """configs/tiny.py, a model small enough for CPU tests, with `overrides` ('model.pool': 4)."""
  config = tiny.get_config()
  config.update_from_flattened_dict(overrides)
  return config


TINY_FLAGS = ['--config', 'configs/tiny.py']  # tiny_config on the command line.
# XLA_FLAGS for test subprocesses: unoptimized CPU code compiles ~10x faster (jax.random.normal
# in 0.5 s instead of 4.6 s, so a model's init in 2 s instead of 16 s).
FAST_COMPILE = '--xla_backend_optimization_level=0'


def write_cifar_python(root: pathlib.Path, num_train: int, num_test: int) -> pathlib.Path:
  """A tiny CIFAR-10 copy of random images in the official python layout (cifar-10-batches-py)."""
  rng = np.random.default_rng(0)
  root.mkdir(parents=True, exist_ok=True)
  sizes = [len(part) for part in np.array_split(np.arange(num_train), 5)]
  files = {f'data_batch_{i + 1}': n for i, n in enumerate(sizes)} | {'test_batch': num_test}
  for name, n in files.items():
    with open(root / name, 'wb') as f:
      pickle.dump({b'data': rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                   b'labels': rng.integers(0, 10, n).tolist()}, f)
  return root


@pytest.fixture
def real_subset():
  if not (REAL_SUBSET / 'test_batch').exists():
    pytest.skip(f'the real CIFAR-10 subset is not at {REAL_SUBSET} '
                '(set RESNET_JAX_SHARED_DATA to the folder holding cifar10_real/)')
  return REAL_SUBSET


def window_offset(crop, padded):
  """The one (top, left) at which `crop` is a window of `padded` (fails if none or several)."""
  height, width = crop.shape[:2]
  matches = [(dy, dx) for dy in range(padded.shape[0] - height + 1)
             for dx in range(padded.shape[1] - width + 1)
             if np.array_equal(crop, padded[dy:dy + height, dx:dx + width])]
  assert len(matches) == 1, matches
  return matches[0]


def random_variables(model, seed=0):
  """He-initialized variables for `model`, drawn with numpy: nothing for XLA to compile."""
  rng = np.random.default_rng(seed)

  def draw(path, leaf):
    name = path[-1].key
    if name == 'kernel':
      return rng.normal(0, np.sqrt(2 / np.prod(leaf.shape[:-1])), leaf.shape).astype(np.float32)
    return (np.ones if name in ('scale', 'var') else np.zeros)(leaf.shape, np.float32)

  return jax.tree_util.tree_map_with_path(draw, models.abstract_variables(model))
