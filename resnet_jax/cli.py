"""The command line: flags, modes and everything a mode prints, over the library's functions.

  resnet-jax --config configs/resnet24.py --workdir runs/resnet24     (or python launch.py ...,
  resnet-jax --workdir runs/resnet24 --mode=eval                       or python -m resnet_jax ...)
  resnet-jax --config configs/resnet24.py --mode=summary --config.model.channels=32,64,128
  resnet-jax --workdir runs/resnet24 --mode=plot
  resnet-jax --config configs/search.py --mode=search --workdir runs/search
  resnet-jax --config configs/resnet24.py --mode=benchmark
  resnet-jax --workdir runs/resnet24 --mode=predict --inputs photos/ cat.png images.npy
  resnet-jax --workdir runs/resnet24 --mode=export
  resnet-jax --workdir runs --mode=runs

Running the same train command again (or just --workdir) resumes from the newest checkpoint in
the workdir, whose config.json keeps the run's config for every mode that is given no --config. On
several hosts, every host runs the same command plus --distributed (Cloud TPU, SLURM, Open MPI)
or --coordinator_address, --num_processes and --process_id.

Library functions return values and raise `errors.ConfigError` / `errors.InputError` (exit status
2) or `errors.NonFiniteLoss` (1); this module prints and turns those into one line `error: ...`,
which names the arguments they name as flags (`workdir` as `--workdir`).
JAX and the library are imported only after the flags (so --help is fast) and after the CPU's XLA
flags are set (JAX reads them once); TensorFlow only by the data that needs it.
"""

import dataclasses
import os
import sys
from typing import Callable

from absl import app, flags, logging
from ml_collections import config_flags

from resnet_jax import errors, output_paths, preemption


def train(config, workdir: str) -> None:
  from resnet_jax import console, train as training  # pylint: disable=g-import-not-at-top
  training.train_and_evaluate(config, workdir, progress=console.TrainingConsole())


def evaluate(config, workdir: str) -> None:
  from resnet_jax import reports, train as training  # pylint: disable=g-import-not-at-top
  results = training.evaluate_checkpoint(config, workdir)
  _print(reports.console_summary(results, workdir))


def summary(config) -> None:
  from resnet_jax import models, validation  # pylint: disable=g-import-not-at-top
  validation.check_design(config.model)
  table, count = models.layer_table(models.create_model(config.model))
  budget = config.model.max_params
  _print(table + f'\nTrainable parameters: {count:,}' + (
      f', over the budget of {budget:,} (config.model.max_params): training refuses it'
      if budget and count > budget else ''))


def plot(workdir: str) -> None:
  from resnet_jax import plots  # pylint: disable=g-import-not-at-top
  _print('\n'.join(plots.write_curves(workdir)))


def runs(workdir: str, defaults) -> None:
  from resnet_jax import runs_table  # pylint: disable=g-import-not-at-top
  rows = runs_table.build(workdir, defaults)
  paths = runs_table.write(workdir, rows)
  _print(runs_table.text_table(rows) + f'\n{len(rows)} run{"s" if len(rows) > 1 else ""}, best '
         'test accuracy first: ' + ', '.join(paths))


def search(config, workdir: str | None, config_file: str | None) -> None:
  # pylint: disable-next=g-import-not-at-top
  from resnet_jax import (console, reports, search as design_search, search_report, study,
                          trials)
  if config.search.preview:
    _print(design_search.preview_text(*design_search.preview(config), config_file))
    return
  progress = console.TrainingConsole()  # Each trial's run, and the final one.
  found = study.run(
      config, workdir, on_trial=lambda trial: _print(search_report.trial_line(trial)),
      on_open=lambda opened, worker: _print(search_report.study_line(opened, config, workdir,
                                                                     worker)),
      progress=progress)
  picked = study.pick(found, config, workdir, config_file, progress=progress)
  if trials.run_folders(workdir):
    runs(workdir, None)
  _print('Pareto picture (validation accuracy against parameters, FLOPs and training time): '
         + search_report.write_pareto(found, workdir))
  if picked.reports is not None:
    _print(reports.console_summary(picked.reports, picked.tested))
  _print(search_report.pick_text(picked, config.search, workdir))


def benchmark(config, workdir: str | None) -> None:
  from resnet_jax import benchmark as speed  # pylint: disable=g-import-not-at-top
  _print(speed.table(speed.run(config, workdir)))


def predict(workdir: str, inputs: list[str], output: str | None, checkpoint: str) -> None:
  from resnet_jax import predict as prediction  # pylint: disable=g-import-not-at-top
  result = prediction.predict_files(workdir, inputs, output, checkpoint)
  count, seconds = len(result.rows), result.seconds
  _print(prediction.console_table(result.rows) + '\n'
         f'{count:,} images in {seconds:.2f} s ({count / seconds:,.0f} images/s, compilation '
         f'included) by the checkpoint of step {result.step} ({result.checkpoint}); all rows, '
         f'with the top {prediction.TOP} classes: {result.path}')


def export(workdir: str, output: str | None, checkpoint: str) -> None:
  # pylint: disable-next=g-import-not-at-top
  from resnet_jax import export as exporting, trained
  model = trained.load(workdir, checkpoint)
  path = model.export(output)
  _print(f'Exported the checkpoint of step {model.step} ({model.checkpoint}) for '
         f'{" and ".join(exporting.PLATFORMS)} to {path} ({os.path.getsize(path):,} bytes), with '
         f'{os.path.join(os.path.dirname(path), exporting.DESCRIPTION)}: it runs with JAX alone '
         '(see the docs, "Using a trained model").')


def _print(text: str) -> None:
  """Prints on process 0: the other processes of a multi-host run compute the same."""
  import jax  # pylint: disable=g-import-not-at-top
  if jax.process_index() == 0:
    print(text, flush=True)


@dataclasses.dataclass(frozen=True)
class Mode:
  function: Callable[..., None]
  takes: tuple[str, ...]  # Its arguments, by name: see `run`.
  help: str
  needs_workdir: bool = False
  writes: str = ''  # What it writes (an `output_paths` kind), checked before it starts.


MODES = {
    'train': Mode(train, ('config', 'workdir'),
                  'train and evaluate, resuming from the newest checkpoint', needs_workdir=True,
                  writes=output_paths.WORKDIR),
    'eval': Mode(evaluate, ('config', 'workdir'),
                 'test metrics and reports of the newest checkpoint (the best, with early '
                 'stopping)', needs_workdir=True, writes=output_paths.WORKDIR),
    'runs': Mode(runs, ('workdir', 'defaults'),
                 'a table of every run under the folder --workdir (CSV, Markdown and a plot '
                 'written there)', needs_workdir=True, writes=output_paths.WORKDIR),
    'summary': Mode(summary, ('config',), 'layer table and parameter count (reads no data)'),
    'plot': Mode(plot, ('workdir',), 'curves of the run in --workdir (needs no --config)',
                 needs_workdir=True, writes=output_paths.WORKDIR),
    'search': Mode(search, ('config', 'workdir', 'config_file'),
                   'search designs and recipes from config.search on Optuna, each trial a run '
                   'in <workdir>/trial-NNNN (see docs/searching.md); '
                   '--config.search.preview=True lists the designs by size instead',
                   writes=output_paths.WORKDIR),
    'benchmark': Mode(benchmark, ('config', 'workdir'),
                      'compile time, train and eval images/s, input pipeline images/s '
                      '(synthetic data; JSON to --workdir if given)', writes=output_paths.WORKDIR),
    'predict': Mode(predict, ('workdir', 'inputs', 'output', 'checkpoint'),
                    'classes of --inputs (CSV to --output)', needs_workdir=True,
                    writes=output_paths.OUTPUT_FILE),
    'export': Mode(export, ('workdir', 'output', 'checkpoint'),
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
  from resnet_jax import caches, console, cpu_tuning  # pylint: disable=g-import-not-at-top
  console.quiet_logging()  # Before anything logs.
  cpu_tuning.use_fast_cpu_flags()
  caches.use_compilation_cache()


def run(mode: Mode, paths: list[str]) -> None:
  """Joins the other processes if any, resolves the config, and calls the mode's function.

  `paths`: the command line's words after the flags, more --inputs (a shell's glob expands there).
  """
  import jax  # pylint: disable=g-import-not-at-top
  # pylint: disable-next=g-import-not-at-top
  from resnet_jax import defaults, parallel, run_config
  processes = (FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)
  if FLAGS.distributed or any(value is not None for value in processes):
    parallel.initialize(*processes)
  if jax.process_index() > 0:
    logging.set_verbosity(logging.WARNING)  # Process 0 logs for all of them.
  if mode.needs_workdir and not FLAGS.workdir:
    raise errors.ConfigError(f'--workdir is required for --mode={FLAGS.mode}')
  arguments = {'workdir': FLAGS.workdir, 'config_file': None, 'output': FLAGS.output,
               'checkpoint': FLAGS.checkpoint, 'inputs': (FLAGS.inputs or []) + paths,
               'defaults': defaults.get_config()}  # What older runs' config.json lack.
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
  mode.function(**{name: arguments[name] for name in mode.takes})


def _main(argv) -> None:
  mode = MODES[FLAGS.mode]
  if len(argv) > 1 and 'inputs' not in mode.takes:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  try:
    output_paths.check(mode.writes, workdir=FLAGS.workdir, output=FLAGS.output)  # Before JAX.
    start_backends()
    run(mode, argv[1:])
  except (errors.ConfigError, errors.InputError, errors.NonFiniteLoss) as e:
    print(f'error: {e.command_line()}', file=sys.stderr)
    sys.exit(1 if isinstance(e, errors.NonFiniteLoss) else 2)
  except preemption.Preempted as e:
    print(e, file=sys.stderr)
    sys.exit(e.exit_code)


def main() -> None:
  """The `resnet-jax` command, `python -m resnet_jax` and launch.py."""
  app.run(_main, flags_parser=parse_flags)
