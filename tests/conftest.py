"""The test session's set-up (CPU only, the tests' XLA flags, one compilation cache), its hooks
and fixtures; the helpers that test modules share are in tests/helpers.py.

Tests that start launch.py (or a Python that imports TensorFlow or trains) or train end to end
for more than a few seconds are marked `@pytest.mark.slow`; `python -m pytest -m "not slow"` is
the quick tier for the edit loop, and plain `python -m pytest` runs everything.
"""

import os
import shutil
import tempfile

# On the CPU, here and in the launch.py subprocesses (which inherit it), even where there is an
# accelerator: each pytest-xdist worker's JAX would take 75% of a GPU's memory. Opt in with
# RESNET_JAX_TEST_GPU=1. Set before JAX is imported.
if os.environ.get('RESNET_JAX_TEST_GPU') != '1':
  os.environ['JAX_PLATFORMS'] = 'cpu'

# pylint: disable=g-import-not-at-top
import pytest

from resnet_jax import cpu_tuning, tensorflow_runtime

tensorflow_runtime.quiet()  # Tests import TensorFlow directly: no notices in every worker's output.

# The tests' XLA flags on the CPU: the users' (`cpu_tuning.CPU_FLAGS`, which launch.py sets) with
# two that change how fast XLA compiles, not what: LLVM's -O0, and XLA:CPU's legacy emitter for
# fused elementwise code instead of its MLIR fusion emitters. The suite compiles about 1,000
# programs of tiny models, and these take two thirds off their compile time (a training step of
# configs/tiny.py with EMA: 1.0 s instead of 2.9 s). Not user flags: ResNet-24 compiles slower
# with the legacy emitter (8.7 s against 4.4 s) and trains 15% slower. Set before JAX starts, for
# this process and the launch.py and Python subprocesses that inherit them; never over the user's
# own XLA_FLAGS. Only those the installed XLA knows (`cpu_tuning.supported`, which warns of
# each it drops): XLA aborts at a flag it does not know, and jaxlib 0.11 dropped the legacy
# emitter's flag. Found once per session: pytest-xdist's workers inherit XLA_FLAGS.
TEST_XLA_FLAGS = tuple(
    [flag for flag in cpu_tuning.CPU_FLAGS if 'optimization_level' not in flag]
    + ['--xla_backend_optimization_level=0', '--xla_cpu_use_fusion_emitters=false'])
if 'XLA_FLAGS' not in os.environ and cpu_tuning.cpu_only(os.environ):
  os.environ['XLA_FLAGS'] = ' '.join(cpu_tuning.supported(TEST_XLA_FLAGS))

from tests.helpers import REAL_SUBSET  # After the flags: it imports JAX.


def pytest_configure(config):
  """One XLA compilation cache for the session, shared with the launch.py subprocesses (and
  pytest-xdist workers, which inherit it), removed at the end of the session."""
  if 'JAX_COMPILATION_CACHE_DIR' not in os.environ:
    cache = tempfile.mkdtemp(prefix='jax_cache_')
    os.environ['JAX_COMPILATION_CACHE_DIR'] = cache
    config.add_cleanup(lambda: shutil.rmtree(cache, ignore_errors=True))
  os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')
  os.environ['XDG_CACHE_HOME'] = tempfile.mkdtemp(prefix='cache_')  # Never the user's cache.


def pytest_collection_modifyitems(items):
  """The slow tests first: on several workers (pytest -n 2, which hands out a module at a time)
  the long modules start early and the many short ones fill the gaps, so the workers finish
  together."""
  items.sort(key=lambda item: item.get_closest_marker('slow') is None)


@pytest.fixture
def real_subset():
  if not (REAL_SUBSET / 'test_batch').exists():
    pytest.skip(f'the real CIFAR-10 subset is not at {REAL_SUBSET} '
                '(set RESNET_JAX_SHARED_DATA to the folder holding cifar10_real/)')
  return REAL_SUBSET
