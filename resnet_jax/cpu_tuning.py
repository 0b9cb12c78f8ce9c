"""What makes training fast on CPU-only machines: XLA:CPU flags, and the ReLU form on CPU.

JAX reads XLA_FLAGS once, when it starts its backends (at the first computation or device
query), so `use_fast_cpu_flags` must run before that.
"""

import importlib.metadata
import importlib.util
import os

import jax

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
  """Sets XLA_FLAGS to CPU_FLAGS on a CPU-only run, unless the user set XLA_FLAGS."""
  if 'XLA_FLAGS' not in environ and cpu_only(environ):
    environ['XLA_FLAGS'] = ' '.join(CPU_FLAGS)


def relu_form(relu: str) -> str:
  """The ReLU form (`models.RELUS`) that config.model.relu asks for: 'auto' is 'select' on the
  CPU, where XLA trains it ~1.4x faster (see `models.select_relu`), and 'max' elsewhere."""
  if relu == 'auto':
    return 'select' if jax.default_backend() == 'cpu' else 'max'
  return relu
