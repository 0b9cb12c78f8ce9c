"""Trains, evaluates, summarizes or searches CIFAR-10 ResNets described by a config.

  python launch.py --config configs/resnet24.py --workdir runs/resnet24
  python launch.py --workdir runs/resnet24 --mode=eval
  python launch.py --config configs/resnet24.py --mode=summary --config.model.channels=32,64,128
  python launch.py --workdir runs/resnet24 --mode=plot
  python launch.py --workdir runs --mode=runs
  python launch.py --config configs/search.py --mode=search
  python launch.py --config configs/resnet24.py --mode=benchmark

Running the same train command again (or just --workdir) resumes from the newest checkpoint in
the workdir, whose config.json keeps the run's config for every mode that is given no --config. On
several hosts, every host runs the same command plus --distributed (Cloud TPU, SLURM, Open MPI)
or --coordinator_address, --num_processes and --process_id.
"""

import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'Config file (configs/*.py); without it, the '
                                'config.json of the run in --workdir.', lock_config=True)
flags.DEFINE_string('workdir', None, 'Directory for checkpoints and TensorBoard summaries.')
flags.DEFINE_enum('mode', 'train',
                  ['train', 'eval', 'summary', 'plot', 'runs', 'search', 'benchmark'],
                  'train: train and evaluate, resuming if possible; eval: test metrics and '
                  'reports of the newest checkpoint; summary: layer table and parameter count '
                  '(reads no data); plot: curves of the run in --workdir (needs no --config); '
                  'runs: a table of every run under the folder --workdir (CSV, Markdown and a '
                  'plot written there); '
                  'search: designs under the budget from config.search (see configs/search.py); '
                  'benchmark: compile time, train and eval images/s, input pipeline images/s '
                  '(synthetic data; JSON to --workdir if given).')
flags.DEFINE_bool('distributed', False,
                  'This is one of several processes (e.g. one per host), all started with the '
                  'same command: join them. JAX finds the others itself on Cloud TPU, SLURM and '
                  'Open MPI; elsewhere give the three flags below.')
flags.DEFINE_string('coordinator_address', None,
                    'HOST:PORT of process 0 in a multi-process run (implies --distributed).')
flags.DEFINE_integer('num_processes', None,
                     'How many processes the run has (implies --distributed).')
flags.DEFINE_integer('process_id', None,
                     "This process's index, 0 to num_processes - 1 (implies --distributed).")


def _flag_value(argv, name: str) -> str | None:
  """What argv gives --name, as --name=value or --name value."""
  for i, arg in enumerate(argv):
    if arg.startswith(f'--{name}='):
      return arg.split('=', 1)[1]
    if arg == f'--{name}' and i + 1 < len(argv):
      return argv[i + 1]
  return None


def parse_flags(argv):
  """absl flag parsing, with a user's mistake reported as one line instead of a traceback."""
  try:
    argv = FLAGS(argv)
    if FLAGS['config'].value is not None:
      FLAGS.config.get('model')  # Config files load lazily; surface a load error now.
    return argv
  except Exception as e:  # Bad flags, unknown config keys, uncastable values, bad files.
    while e.args and isinstance(e.args[0], Exception):
      e = e.args[0]  # ml_collections wraps the useful message in other exceptions.
    message = str(e.args[0] if e.args else e)
    if 'Traceback (most recent call last)' in message:  # An error raised by get_config().
      message = message.strip().splitlines()[-1]
    message = ' '.join(message.split())
    if isinstance(e, AttributeError) and message.endswith("has no attribute 'get_config'"):
      message = (f'{_flag_value(argv, "config")} has no get_config(); --config takes a '
                 'config file such as configs/resnet24.py')
    elif isinstance(e, (KeyError, AttributeError)):
      message = f'unknown config field {message}'
    print(f'error: {message}', file=sys.stderr)
    sys.exit(2)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')  # Else TensorFlow announces it at start.
  from resnet_jax import xla_flags
  xla_flags.use_fast_cpu_flags()  # Before JAX starts its backends.
  if FLAGS.mode != 'summary':  # Summary reads no data: TensorFlow would take 3.5 s to import.
    import tensorflow as tf  # Heavy imports after flag parsing keep --help fast.
    tf.config.set_visible_devices([], 'GPU')  # tf.data must never take accelerator memory.
  import jax
  from configs import default
  from resnet_jax import caches, console, models, parallel, preemption, run_config, validation
  from resnet_jax.errors import ConfigError
  caches.use_compilation_cache()

  console.quiet_logging()
  try:
    processes = (FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)
    if FLAGS.distributed or any(value is not None for value in processes):
      parallel.initialize(*processes)
    if jax.process_index() > 0:
      logging.set_verbosity(logging.WARNING)  # Process 0 logs for all of them.
    if FLAGS.mode in ('train', 'eval', 'plot', 'runs') and not FLAGS.workdir:
      raise ConfigError(f'--workdir is required for --mode={FLAGS.mode}')
    if FLAGS.mode == 'plot':
      from resnet_jax import plots
      print('\n'.join(plots.write_curves(FLAGS.workdir)))
      return
    if FLAGS.mode == 'runs':
      from resnet_jax import runs_table
      runs_table.run(FLAGS.workdir, defaults=default.get_config())
      return
    config = FLAGS.config
    if config is None and FLAGS.workdir:
      # The config of the run there, if it started.
      config = run_config.load(FLAGS.workdir, defaults=default.get_config())
    if config is None:
      raise validation.ConfigError(
          '--config is required, e.g. --config configs/resnet24.py' + (
              f' (no {run_config.FILENAME} in --workdir={FLAGS.workdir} to take it from)'
              if FLAGS.workdir else ''))
    if FLAGS.mode == 'summary':
      validation.check_design(config.model)
      table, count = models.layer_table(models.create_model(config.model))
      budget = config.model.max_params
      if jax.process_index() == 0:
        print(table)
        print(f'Trainable parameters: {count:,}' + (
            f', over the budget of {budget:,} (config.model.max_params): training refuses it'
            if budget and count > budget else ''))
      return
    from resnet_jax import benchmark, search, train
    try:
      if FLAGS.mode == 'search':
        search.run(config, FLAGS.workdir, None if FLAGS.config is None
                   else config_flags.get_config_filename(FLAGS['config']))
      elif FLAGS.mode == 'benchmark':
        results = benchmark.run(config, FLAGS.workdir)
        if jax.process_index() == 0:
          print(benchmark.table(results))
      elif FLAGS.mode == 'train':
        train.train_and_evaluate(config, FLAGS.workdir)
      else:
        results = train.evaluate_checkpoint(config, FLAGS.workdir)
        if jax.process_index() == 0:
          from resnet_jax import reports
          print(reports.console_summary(results, FLAGS.workdir))
    except train.NonFiniteLoss as e:
      print(f'error: {e}', file=sys.stderr)
      sys.exit(1)
  except ConfigError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  except preemption.Preempted as e:
    print(e, file=sys.stderr)
    sys.exit(e.exit_code)


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
