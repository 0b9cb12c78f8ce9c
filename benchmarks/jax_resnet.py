"""One resnet_jax train step, served step by step to `compare_pytorch.py`.

  python benchmarks/jax_resnet.py --config configs/resnet24.py [--config.model.relu=max ...]

Like launch.py, it sets the XLA:CPU flags on a CPU-only machine unless XLA_FLAGS is set.
"""

from absl import app, flags
from ml_collections import config_flags
from step_server import serve

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'Config file (configs/*.py).')


def main(argv):
  del argv
  from resnet_jax import cpu_tuning  # Before JAX starts its backends.
  cpu_tuning.use_fast_cpu_flags()
  from resnet_jax import benchmark, parallel
  _, run_train_step, _ = benchmark.compiled_steps(FLAGS.config, parallel.make_mesh())
  serve(run_train_step, FLAGS.config.benchmark.warmup_steps)


if __name__ == '__main__':
  app.run(main)
