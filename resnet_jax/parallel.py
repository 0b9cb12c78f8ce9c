"""The one place that knows about devices: processes, the mesh, and how arrays lie on it.

Steps are jitted over global arrays: the train state and the device-resident datasets are
replicated on every device, batches are split over the mesh's one axis, and XLA inserts the
collectives (gradient means, BatchNorm statistics over the global batch). With several
processes (hosts), the mesh spans the devices of all of them.
"""

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from resnet_jax.errors import ConfigError

AXIS = 'data'


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
  """Joins the other processes of a multi-process run; call it before anything uses JAX.

  Arguments left as None are found by `jax.distributed.initialize` itself on Cloud TPU, SLURM
  and Open MPI (and the address in JAX_COORDINATOR_ADDRESS).
  """
  try:
    jax.distributed.initialize(coordinator_address, num_processes, process_id)
  except (ValueError, TypeError) as e:  # Missing or inconsistent process settings.
    raise ConfigError(
        'cannot start the multi-process runtime (%s); give coordinator_address=HOST:PORT (of '
        'process 0), num_processes and process_id, or run under Cloud TPU, SLURM or Open MPI, '
        'whose settings JAX detects', str(e).rstrip('.'),
        arguments=('coordinator_address', 'num_processes', 'process_id')) from None


def make_mesh(devices=None) -> jax.sharding.Mesh:
  """A 1-D mesh over `devices` (default: every device of every process).

  Its axis is of the Auto type: XLA propagates the shardings of the inputs through the steps
  (the arrays' types do not carry them), so the step code is plain single-device code.
  """
  devices = jax.devices() if devices is None else list(devices)
  return jax.make_mesh((len(devices),), (AXIS,), axis_types=(jax.sharding.AxisType.Auto,),
                       devices=devices)


def replicated(mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh, batch_axis: int = 0) -> NamedSharding:
  """Arrays whose axis `batch_axis` is split over the devices (the rest whole on each)."""
  return NamedSharding(mesh, P(*[None] * batch_axis, AXIS))


def replicate(tree, mesh):
  """Places a pytree of device arrays (the same on every process), whole, on every device."""
  return jax.device_put(tree, replicated(mesh))


def put_global(tree, sharding: NamedSharding):
  """Global arrays from host arrays that every process holds in full (each copies its part).
  Arrays already laid out so are returned as they are (no copy)."""
  def put(array):
    if isinstance(array, jax.Array) and array.sharding.is_equivalent_to(sharding, array.ndim):
      return array
    array = np.asarray(array)
    return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])
  return jax.tree.map(put, tree)


def shard_batch(batch, mesh, batch_axis: int = 0):
  """Turns this process's part of global batches into arrays split over the mesh.

  Each process holds the slice of axis `batch_axis` that its devices take.
  """
  sharding = batch_sharding(mesh, batch_axis)
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)
