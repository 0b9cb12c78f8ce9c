"""The one place that knows about devices: processes, the data-parallel mesh, batch placement.

Each device holds a replica of the train state and one slice of the global batch; steps
written per replica (`data_parallel`) average gradients and BatchNorm statistics over AXIS.
With several processes (hosts), the mesh spans the devices of all of them.
"""

import jax
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
        f'cannot start the multi-process runtime ({str(e).rstrip(".")}); give '
        '--coordinator_address=HOST:PORT (of process 0), --num_processes and --process_id, or '
        'run under Cloud TPU, SLURM or Open MPI, whose settings JAX detects') from None


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
