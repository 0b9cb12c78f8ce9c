"""A table of every run under a folder, side by side: design, size, cost, accuracy, time,
hardware and status, from what the runs left in their workdirs (`--mode=runs`).

A run is a folder holding `config.json`, at any depth (a search's designs are
`<workdir>/<design>`), in any state: killed before its first evaluation, running, pruned by a
search (validation accuracy only), finished. The table reads each run's config.json, run.json
(`run_record`), TensorBoard event files, report.json and checkpoint folder names, whichever it
has, and never loads a checkpoint or compiles anything; it is written as runs.csv, runs.md and
runs.png into the folder.
"""

import csv
import io
import os
from typing import Any

from matplotlib.figure import Figure

from resnet_jax import (atomic_files, checkpoints, console, designs, event_files, models,
                        report_pictures, reports, run_config, run_record, validation,
                        workdir_lock)
from resnet_jax.errors import ConfigError

# Column -> heading on the console and in Markdown (the CSV has these and a few more).
COLUMNS = {'run': 'run', 'design': 'design', 'parameters': 'params', 'mflops': 'MFLOPs/img',
           'epochs': 'epochs', 'best_test_accuracy': 'best acc', 'final_test_accuracy': 'final acc',
           'best_val_accuracy': 'val acc', 'wall_secs': 'wall', 'hardware': 'hardware',
           'status': 'status'}
CSV_EXTRA = ('epochs_planned', 'host', 'started', 'newest_checkpoint_step', 'num_steps')
RUNNING, STOPPED = 'running', 'stopped'


def find_runs(folder: str) -> list[str]:
  """Every run under `folder` (itself included), in path order."""
  runs = []
  for root, dirs, files in os.walk(folder):
    dirs[:] = sorted(d for d in dirs if not d.startswith(checkpoints.LATEST))
    if run_config.FILENAME in files:
      runs.append(root)
  return runs


def newest_checkpoint(workdir: str) -> int | None:
  """The newest step saved in `workdir/checkpoints` (Orbax's step folders), or None."""
  directory = os.path.join(workdir, checkpoints.LATEST)
  steps = [int(name) for name in os.listdir(directory) if name.isdigit()] if os.path.isdir(
      directory) else []
  return max(steps, default=None)


def _model_costs(model_config, cache: dict) -> tuple[int, float]:
  """(trainable parameters, MFLOPs per image) of a design; each design is lowered once."""
  key = model_config.to_json(sort_keys=True)
  if key not in cache:
    model = models.create_model(model_config)
    cache[key] = models.trainable_params(model), models.flops_per_image(model) / 1e6
  return cache[key]


def run_row(folder: str, workdir: str, defaults=None, cache: dict | None = None) -> dict[str, Any]:
  """One run's row; what its workdir cannot tell is None."""
  config = run_config.load(workdir, defaults=defaults)
  record = run_record.read(workdir)
  scalars = event_files.read_scalars(workdir)
  row = dict.fromkeys(list(COLUMNS) + list(CSV_EXTRA))
  row['run'] = os.path.relpath(workdir, folder)
  row['design'] = designs.Design.of(config.model).text
  try:
    validation.check_design(config.model)
    row['parameters'], row['mflops'] = _model_costs(config.model, {} if cache is None else cache)
  except ConfigError:
    pass  # A design this version refuses to build: its costs stay unknown.

  steps_per_epoch, num_steps = None, None
  if record:
    steps_per_epoch, num_steps = record['steps_per_epoch'], record['num_steps']
  elif scalars.get('epoch'):  # Older runs logged the epoch (step / steps per epoch) at evals.
    step = max(scalars['epoch'])
    steps_per_epoch = round(step / scalars['epoch'][step])
    num_steps = round(steps_per_epoch * config.num_epochs)
  last = record['sessions'][-1] if record and record['sessions'] else {}
  outcome, last_step = last.get('outcome'), last.get('last_step') or 0
  row['num_steps'] = num_steps
  row['newest_checkpoint_step'] = newest = newest_checkpoint(workdir)
  # Steps done: those a restart keeps (checkpointed), or all of a session that ended by itself.
  done = max(newest or 0, last_step if outcome else 0)
  if steps_per_epoch:
    row['epochs'] = done / steps_per_epoch
    row['epochs_planned'] = num_steps / steps_per_epoch

  accuracy = scalars.get('test_accuracy')
  if accuracy:
    row['best_test_accuracy'] = max(accuracy.values())
    row['final_test_accuracy'] = accuracy[max(accuracy)]
  elif (report := reports.read(workdir)) is not None:  # The metrics are gone, not the report.
    row['final_test_accuracy'] = report['accuracy']
  if scalars.get('val_accuracy'):
    row['best_val_accuracy'] = max(scalars['val_accuracy'].values())

  running = workdir_lock.is_held(workdir)
  if last:
    row['wall_secs'] = run_record.wall_secs(record, running=running)
    row['hardware'] = hardware_text(last)
    row['host'], row['started'] = last['host'], record['sessions'][0]['started']
  if running:
    row['status'] = RUNNING
  elif outcome == run_record.PRUNED and steps_per_epoch:
    row['status'] = f'{outcome} at epoch {console.epoch_count(last_step, steps_per_epoch)}'
  elif outcome:
    row['status'] = outcome
  elif num_steps is not None:
    row['status'] = run_record.FINISHED if done >= num_steps else STOPPED
  return row


def hardware_text(session: dict[str, Any]) -> str:
  """'8x NVIDIA H200', '1x cpu', '16x TPU v5 lite on 4 hosts'."""
  text = f'{session["device_count"]}x {session["device_kind"]}'
  processes = session['process_count']
  return text + (f' on {processes} hosts' if processes > 1 else '')


def build(workdir: str, defaults=None) -> list[dict[str, Any]]:
  """The rows of every run under the folder `workdir`, best test accuracy first (runs without
  one last), then best validation accuracy, then path."""
  if not os.path.isdir(workdir):
    raise ConfigError('workdir=%s is not a folder; give a folder holding runs', workdir,
                      arguments=('workdir',))
  runs = find_runs(workdir)
  if not runs:
    raise ConfigError('no runs under workdir=%s (a run is a folder with %s); give the folder '
                      'your runs are in', workdir, run_config.FILENAME, arguments=('workdir',))
  cache = {}
  rows = [run_row(workdir, run, defaults, cache) for run in runs]
  return sorted(rows, key=lambda r: (r['best_test_accuracy'] is None,
                                     -(r['best_test_accuracy'] or 0),
                                     -(r['best_val_accuracy'] or 0), r['run']))


def cell(row: dict[str, Any], column: str) -> str:
  """A value as people read it; '-' where unknown."""
  value = row[column]
  if value is None:
    return '-'
  if column in ('best_test_accuracy', 'final_test_accuracy', 'best_val_accuracy'):
    return f'{value:.2%}'
  if column == 'parameters':
    return f'{value:,}'
  if column == 'mflops':
    return f'{value:,.1f}'
  if column == 'epochs':  # Done, of planned.
    return f'{value:.3g}/{row["epochs_planned"]:.3g}'
  if column == 'wall_secs':
    return console.duration(value)
  return str(value)


def text_table(rows: list[dict[str, Any]]) -> str:
  """Aligned columns for the console."""
  table = [list(COLUMNS.values())] + [[cell(row, c) for c in COLUMNS] for row in rows]
  widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
  left = {'run', 'design', 'hardware', 'status'}
  return '\n'.join('  '.join(
      text.ljust(width) if column in left else text.rjust(width)
      for text, width, column in zip(line, widths, COLUMNS)).rstrip() for line in table)


def markdown(rows: list[dict[str, Any]]) -> str:
  head = '| ' + ' | '.join(COLUMNS.values()) + ' |'
  rule = '|' + '|'.join('---' if c in ('run', 'design', 'hardware', 'status') else '---:'
                        for c in COLUMNS) + '|'
  return '\n'.join([head, rule] + ['| ' + ' | '.join(cell(row, c) for c in COLUMNS) + ' |'
                                   for row in rows]) + '\n'


def csv_text(rows: list[dict[str, Any]]) -> str:
  out = io.StringIO()
  writer = csv.DictWriter(out, fieldnames=list(COLUMNS) + list(CSV_EXTRA), lineterminator='\n')
  writer.writeheader()
  writer.writerows({k: '' if v is None else v for k, v in row.items()} for row in rows)
  return out.getvalue()


def scatter(rows: list[dict[str, Any]]) -> Figure:
  """Best test accuracy against parameters and against MFLOPs per image, a point per run."""
  figure = Figure(figsize=(12, 5))
  shown = [r for r in rows if r['best_test_accuracy'] is not None and r['parameters']]
  for axes, column, label in zip(figure.subplots(1, 2, sharey=True),
                                 ('parameters', 'mflops'),
                                 ('trainable parameters', 'MFLOPs per image')):
    axes.scatter([r[column] for r in shown], [100 * r['best_test_accuracy'] for r in shown])
    if len(shown) <= 20:  # Beyond that, names would cover the points.
      for r in shown:
        axes.annotate(r['run'], (r[column], 100 * r['best_test_accuracy']), fontsize=7,
                      xytext=(3, 3), textcoords='offset points')
    axes.set(xlabel=label, title=f'against {label}')
    axes.margins(x=0.2)  # Room for the names of the outermost points.
    axes.grid(alpha=0.3)
  figure.axes[0].set_ylabel('best test accuracy (%)')
  figure.suptitle('Runs: best test accuracy')
  return figure


def write(folder: str, rows: list[dict[str, Any]]) -> list[str]:
  """Writes runs.csv, runs.md and runs.png into `folder`, each atomically; returns the paths."""
  paths = [os.path.join(folder, f'runs.{ext}') for ext in ('csv', 'md', 'png')]
  atomic_files.write(paths[0], csv_text(rows))
  atomic_files.write(paths[1], markdown(rows))
  report_pictures.save(scatter(rows), paths[2])
  return paths

