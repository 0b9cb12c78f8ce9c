"""The one place that knows about devices: the data-parallel mesh and batch placement.

Each device holds a replica of the train state and one slice of the global batch; steps
written per replica (`data_parallel`) average gradients and BatchNorm statistics over AXIS.
"""

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

AXIS = 'data'


def make_mesh(devices=None) -> jax.sharding.Mesh:
  """A 1-D mesh over `devices` (default: every device of every process)."""
  devices = jax.devices() if devices is None else list(devices)
  return jax.make_mesh((len(devices),), (AXIS,), devices=devices)


def replicate(tree, mesh):
  """Places a pytree, whole, on every device of the mesh."""
  return jax.device_put(tree, NamedSharding(mesh, P()))


def shard_batch(batch, mesh):
  """Turns this process's part of a global batch into arrays split over the mesh."""
  sharding = NamedSharding(mesh, P(AXIS))
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)


def data_parallel(step_fn, mesh, *, num_replicated_args: int = 1):
  """Runs `step_fn(*replicated_args, batch)` once per device on its slice of the batch.

  The replicated arguments and all outputs are the same on every device (the step must
  average what differs with `jax.lax.pmean(..., AXIS)`).
  """
  return jax.shard_map(step_fn, mesh=mesh,
                       in_specs=(P(),) * num_replicated_args + (P(AXIS),), out_specs=P())


def num_local_devices(mesh) -> int:
  """Devices of the mesh that belong to this process."""
  return int(np.sum([d.process_index == jax.process_index() for d in mesh.devices.flat]))
