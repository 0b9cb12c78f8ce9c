"""Trains, evaluates, summarizes or searches CIFAR-10 ResNets described by a config.

  python launch.py --config configs/resnet24.py --workdir runs/resnet24
  python launch.py --workdir runs/resnet24 --mode=eval
  python launch.py --config configs/resnet24.py --mode=summary --config.model.channels=32,64,128
  python launch.py --workdir runs/resnet24 --mode=plot
  python launch.py --config configs/search.py --mode=search
  python launch.py --config configs/resnet24.py --mode=benchmark
  python launch.py --workdir runs/resnet24 --mode=predict --inputs photos/ cat.png images.npy
  python launch.py --workdir runs/resnet24 --mode=export
  python launch.py --workdir runs --mode=runs

Running the same train command again (or just --workdir) resumes from the newest checkpoint in
the workdir, whose config.json keeps the run's config for every mode that is given no --config. On
several hosts, every host runs the same command plus --distributed (Cloud TPU, SLURM, Open MPI)
or --coordinator_address, --num_processes and --process_id.

Each mode is one function beside what it runs (`MODES`); this file parses the flags, starts the
backends and turns errors into exit statuses. JAX and the library are imported only after the
flags (so --help is fast) and after the CPU's XLA flags are set (JAX reads them once); TensorFlow
only by the data that needs it (tfds, image folders, the host pipeline).
"""

import dataclasses
import importlib
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from resnet_jax import errors, output_paths, preemption


@dataclasses.dataclass(frozen=True)
class Mode:
  function: str  # 'module:function', imported only when the mode runs.
  takes: tuple[str, ...]  # Its arguments, by name: see `run`.
  help: str
  needs_workdir: bool = False
  writes: str = ''  # What it writes (an `output_paths` kind), checked before it starts.


MODES = {
    'train': Mode('resnet_jax.train:train_and_evaluate', ('config', 'workdir'),
                  'train and evaluate, resuming from the newest checkpoint', needs_workdir=True,
                  writes=output_paths.WORKDIR),
    'eval': Mode('resnet_jax.train:evaluate_checkpoint', ('config', 'workdir'),
                 'test metrics and reports of the newest checkpoint (the best, with early '
                 'stopping)', needs_workdir=True, writes=output_paths.WORKDIR),
    'runs': Mode('resnet_jax.runs_table:run', ('workdir', 'defaults'),
                 'a table of every run under the folder --workdir (CSV, Markdown and a plot '
                 'written there)', needs_workdir=True, writes=output_paths.WORKDIR),
    'summary': Mode('resnet_jax.console:print_summary', ('config',),
                    'layer table and parameter count (reads no data)'),
    'plot': Mode('resnet_jax.plots:print_curves', ('workdir',),
                 'curves of the run in --workdir (needs no --config)', needs_workdir=True,
                 writes=output_paths.WORKDIR),
    'search': Mode('resnet_jax.search:run', ('config', 'workdir', 'config_file'),
                   'designs under the budget from config.search (see configs/search.py)',
                   writes=output_paths.WORKDIR),
    'benchmark': Mode('resnet_jax.benchmark:main', ('config', 'workdir'),
                      'compile time, train and eval images/s, input pipeline images/s '
                      '(synthetic data; JSON to --workdir if given)',
                      writes=output_paths.WORKDIR),
    'predict': Mode('resnet_jax.predict:run', ('workdir', 'inputs', 'output', 'checkpoint'),
                    'classes of --inputs (CSV to --output)', needs_workdir=True,
                    writes=output_paths.OUTPUT_FILE),
    'export': Mode('resnet_jax.export:run', ('workdir', 'output', 'checkpoint'),
                   'the model as a file that runs with JAX alone (to <workdir>/export)',
                   needs_workdir=True, writes=output_paths.OUTPUT_FOLDER),
}

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'Config file (configs/*.py); without it, the '
                                'config.json of the run in --workdir.', lock_config=True)
flags.DEFINE_string('workdir', None, 'Directory for checkpoints and TensorBoard summaries.')
flags.DEFINE_enum('mode', 'train', list(MODES),
                  '; '.join(f'{name}: {mode.help}' for name, mode in MODES.items()) + '.')
flags.DEFINE_list('inputs', None, '--mode=predict: image files (PNG, JPEG, ...: any size, made '
                  '32x32 RGB as torchvision\'s Resize(32) + CenterCrop(32)), folders of them, or '
                  '.npy files of uint8 images (N, 32, 32, 3); comma-separated, and any further '
                  'paths after the flags (--inputs photos/*.jpg).')
flags.DEFINE_string('output', None, '--mode=predict: the CSV to write (default '
                    '<workdir>/predictions.csv); --mode=export: the folder (default '
                    '<workdir>/export).')
flags.DEFINE_string('checkpoint', 'default', '--mode=predict and export: best, latest, a step '
                    'number, or default: what --mode=eval evaluates (best with early stopping, '
                    'else latest).')
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
    print(f'error: {errors.flag_error_message(e, _flag_value(argv, "config"))}', file=sys.stderr)
    sys.exit(2)


def start_backends() -> None:
  """The CPU's XLA flags and the compilation cache, before JAX starts its backends. (TensorFlow,
  only for the data that needs it, starts where it is used: `tensorflow_runtime`.)"""
  from resnet_jax import caches, console, cpu_tuning
  console.quiet_logging()  # Before anything logs.
  cpu_tuning.use_fast_cpu_flags()
  caches.use_compilation_cache()


def run(mode: Mode, paths: list[str]) -> None:
  """Joins the other processes if any, resolves the config, and calls the mode's function.

  `paths`: the command line's words after the flags, more --inputs (a shell's glob expands there).
  """
  import jax
  from configs import default
  from resnet_jax import parallel, run_config
  processes = (FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)
  if FLAGS.distributed or any(value is not None for value in processes):
    parallel.initialize(*processes)
  if jax.process_index() > 0:
    logging.set_verbosity(logging.WARNING)  # Process 0 logs for all of them.
  if mode.needs_workdir and not FLAGS.workdir:
    raise errors.ConfigError(f'--workdir is required for --mode={FLAGS.mode}')
  arguments = {'workdir': FLAGS.workdir, 'config_file': None, 'output': FLAGS.output,
               'checkpoint': FLAGS.checkpoint, 'inputs': (FLAGS.inputs or []) + paths,
               'defaults': default.get_config()}  # What older runs' config.json lack.
  if 'config' in mode.takes:
    config = FLAGS.config
    if config is None and FLAGS.workdir:  # The config of the run there, if it started.
      config = run_config.load(FLAGS.workdir, defaults=arguments['defaults'])
    if config is None:
      raise errors.ConfigError('--config is required, e.g. --config configs/resnet24.py' + (
          f' (no {run_config.FILENAME} in --workdir={FLAGS.workdir} to take it from)'
          if FLAGS.workdir else ''))
    arguments['config'] = config
  if FLAGS.config is not None:
    arguments['config_file'] = config_flags.get_config_filename(FLAGS['config'])
  module, function = mode.function.split(':')
  getattr(importlib.import_module(module), function)(
      **{name: arguments[name] for name in mode.takes})


def main(argv):
  mode = MODES[FLAGS.mode]
  if len(argv) > 1 and 'inputs' not in mode.takes:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  try:
    output_paths.check(mode.writes, workdir=FLAGS.workdir, output=FLAGS.output)  # Before JAX.
    start_backends()
    run(mode, argv[1:])
  except (errors.ConfigError, errors.NonFiniteLoss) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2 if isinstance(e, errors.ConfigError) else 1)
  except preemption.Preempted as e:
    print(e, file=sys.stderr)
    sys.exit(e.exit_code)


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
