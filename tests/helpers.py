"""What several test modules share: a tiny config, the real CIFAR-10 subset, launch.py in a
subprocess, small data and model makers. (tests/conftest.py holds the session's set-up, its hooks
and fixtures.) No test module imports another: what two modules share lives here."""

import os
import pathlib
import pickle
import subprocess
import sys

import jax
import numpy as np
from absl import flags
from ml_collections import config_flags

from configs import tiny
from resnet_jax import models
from resnet_jax.errors import ConfigError

ROOT = pathlib.Path(__file__).resolve().parents[1]
REAL_SUBSET = pathlib.Path(os.environ.get('RESNET_JAX_SHARED_DATA', ROOT.parent / 'shared' / 'data')
                           ) / 'cifar10_real'


def tiny_config(**overrides):
  """configs/tiny.py, a model small enough for CPU tests, with `overrides` ('model.pool': 4)."""
  config = tiny.get_config()
  config.update_from_flattened_dict(overrides)
  return config


def launch(*args, environ=os.environ, script=str(ROOT / 'launch.py')):
  """`python launch.py *args` (or `python *args` with script=None) on the CPU, output captured."""
  env = dict(environ, JAX_PLATFORMS='cpu')
  return subprocess.run([sys.executable, *([script] if script else []), *args], cwd=ROOT,
                        env=env, capture_output=True, text=True, timeout=600)


def command_line_config(*args, config='configs/tiny.py'):
  """The flag values launch.py parses from `--config <config> *args` (config_flags, as it does),
  in this process: a command line's config without starting launch.py.

  Raises absl's `flags.Error` for what the command line itself refuses (a value of the wrong
  type); launch.py prints that as its one-line error.
  """
  argv = ['launch.py', '--config', config, *args]
  flag_values = flags.FlagValues()
  config_flags.DEFINE_config_file('config', None, '', flag_values=flag_values, lock_config=True,
                                  sys_argv=argv)
  for name in ('workdir', 'mode'):
    flags.DEFINE_string(name, None, '', flag_values=flag_values)
  flag_values(argv)
  return flag_values


def unrefused(cases, check) -> list[str]:
  """The (overrides, expected) cases that `check(overrides)` accepts, or refuses with a
  ConfigError lacking `expected`, each named: a table-driven test asserts there are none."""
  failures = []
  for overrides, expected in cases:
    try:
      check(overrides)
      failures.append(f'{overrides}: accepted')
    except ConfigError as e:
      if expected not in str(e):
        failures.append(f'{overrides}: {str(e)!r} lacks {expected!r}')
  return failures


TINY_FLAGS = ['--config', 'configs/tiny.py']  # tiny_config on the command line.


def with_host_devices(count: int, environ=os.environ) -> dict[str, str]:
  """`environ` for a subprocess whose CPU shows `count` devices (its XLA_FLAGS, plus one)."""
  flags_value = f"{environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={count}"
  return dict(environ, JAX_PLATFORMS='cpu', XLA_FLAGS=flags_value.strip())


PNG = b'\x89PNG\r\n\x1a\n'  # The first bytes of every PNG file.


def saved_steps(workdir: pathlib.Path) -> list[int]:
  """The steps of the checkpoints in `workdir/checkpoints` (Orbax's finished step folders)."""
  checkpoints = workdir / 'checkpoints'
  if not checkpoints.is_dir():
    return []
  return sorted(int(p.name) for p in checkpoints.iterdir() if p.name.isdigit())


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


def train_on_mock_data(config, workdir, **options):
  """train.train_and_evaluate on tfds' mock CIFAR-10 of 32 images (4 steps per epoch at batch 8),
  with its keyword `options`.

  TensorFlow is imported here, not with this module: pytest-xdist's controller loads this file
  and never trains."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from resnet_jax import train  # pylint: disable=g-import-not-at-top
  with tfds.testing.mock_data(num_examples=32):
    return train.train_and_evaluate(config, str(workdir), **options)


def covered_by_zero_squares(zero, size):
  """Every zero pixel lies in some all-zero size x size window."""
  height, width = zero.shape
  covered = np.zeros_like(zero)
  for top in range(height - size + 1):
    for left in range(width - size + 1):
      if zero[top:top + size, left:left + size].all():
        covered[top:top + size, left:left + size] = True
  return np.array_equal(covered, zero)


def random_variables(model, seed=0):
  """He-initialized variables for `model`, drawn with numpy: nothing for XLA to compile."""
  rng = np.random.default_rng(seed)

  def draw(path, leaf):
    name = path[-1].key
    if name == 'kernel':
      return rng.normal(0, np.sqrt(2 / np.prod(leaf.shape[:-1])), leaf.shape).astype(np.float32)
    return (np.ones if name in ('scale', 'var') else np.zeros)(leaf.shape, np.float32)

  return jax.tree_util.tree_map_with_path(draw, models.abstract_variables(model))
