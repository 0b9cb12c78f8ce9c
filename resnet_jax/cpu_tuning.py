"""What makes training fast on CPU-only machines: XLA:CPU flags, and the ReLU form on CPU.

JAX reads XLA_FLAGS once, when it starts its backends (at the first computation or device
query), so `use_fast_cpu_flags` must run before that. XLA aborts the process at a flag it does
not know, and flags come and go between jaxlib versions, so only those the installed XLA knows
are set (`supported`).
"""

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys

import jax
from absl import logging

from resnet_jax import caches

CPU_FLAGS = (
    # Eigen's convolutions, not YNNPACK's: YNNPACK's weight gradients are several times slower.
    '--xla_cpu_experimental_ynn_fusion_type=-individual_convolution',
    # LLVM's -O1 for XLA's own kernels: compiles several times faster, trains as fast.
    '--xla_backend_optimization_level=1',
)


def cpu_only(environ) -> bool:
  """Whether JAX can only run on the CPU: JAX_PLATFORMS says so, or no accelerator is installed.

  GPUs come through PJRT plugins (jax_plugins) and TPUs through libtpu.
  """
  if environ.get('JAX_PLATFORMS'):
    return set(environ['JAX_PLATFORMS'].split(',')) == {'cpu'}
  return not (importlib.util.find_spec('jax_plugins') or importlib.util.find_spec('libtpu')
              or importlib.metadata.entry_points(group='jax_plugins'))


def use_fast_cpu_flags(environ=os.environ) -> None:
  """Sets XLA_FLAGS to those of CPU_FLAGS that XLA knows, on a CPU-only run, unless the user set
  XLA_FLAGS."""
  if 'XLA_FLAGS' not in environ and cpu_only(environ):
    environ['XLA_FLAGS'] = fast_cpu_flags()


def fast_cpu_flags() -> str:
  """The XLA_FLAGS value of CPU_FLAGS: those the installed XLA knows."""
  return ' '.join(supported(CPU_FLAGS, cache=caches.directory('xla_flags')))


# Starts XLA:CPU, which parses XLA_FLAGS.
_START_XLA = 'import jax; jax.numpy.zeros(1).block_until_ready()'


def supported(flags, *, cache: str | None = None) -> tuple[str, ...]:
  """`flags` less those the installed XLA does not know, each dropped with a warning.

  Found by starting XLA:CPU in a subprocess with them: XLA names the flags it does not know as it
  aborts. The answer is kept in the folder `cache`, if given, per jaxlib version and flags: a
  process that finds it there starts no subprocess.
  """
  flags = tuple(flags)
  key = hashlib.sha256(' '.join((_jaxlib_version(),) + flags).encode()).hexdigest()[:16]
  path = cache and os.path.join(cache, f'{key}.json')
  try:
    with open(path) as f:
      return tuple(json.load(f))
  except (TypeError, OSError, ValueError):  # Not cached (or no cache).
    pass
  kept = list(flags)
  while kept:
    environ = dict(os.environ, XLA_FLAGS=' '.join(kept), JAX_PLATFORMS='cpu')
    started = subprocess.run([sys.executable, '-c', _START_XLA], env=environ,
                             capture_output=True, text=True, timeout=300)
    if started.returncode == 0:
      break
    names = ' '.join(re.findall(r'Unknown flags? in XLA_FLAGS: (.*)', started.stderr)).split()
    unknown = [flag for flag in kept if flag in names or flag.split('=')[0] in names]
    if not unknown:  # Failed for another reason: the flags cannot be vouched for.
      logging.warning('XLA did not start with XLA_FLAGS=%r (%s); running without them.',
                      environ['XLA_FLAGS'], started.stderr.strip()[-300:])
      unknown = kept
    else:
      logging.warning('XLA of jaxlib %s does not know %s; running without %s.',
                      _jaxlib_version(), ' '.join(unknown), 'it' if len(unknown) == 1 else 'them')
    kept = [flag for flag in kept if flag not in unknown]
  if path:
    os.makedirs(cache, exist_ok=True)
    partial = f'{path}.{os.getpid()}.tmp'  # Processes starting together each write whole.
    with open(partial, 'w') as f:
      json.dump(kept, f)
    os.replace(partial, path)
  return tuple(kept)


def _jaxlib_version() -> str:
  return importlib.metadata.version('jaxlib')


def relu_form(relu: str) -> str:
  """The ReLU form (`models.RELUS`) that config.model.relu asks for: 'auto' is 'select' on the
  CPU, where XLA trains it ~1.4x faster (see `models.select_relu`), and 'max' elsewhere."""
  if relu == 'auto':
    return 'select' if jax.default_backend() == 'cpu' else 'max'
  return relu
