"""What a person reads of a search: a line per trial, the study's state, the Pareto picture, the
pick and its one test look, and the exact command that trains the pick on the whole training set.

Everything here reads Optuna's finished trials and the runs' folders; nothing trains.
"""

import importlib.util
import os
import shlex

import optuna
import sqlalchemy
from matplotlib.figure import Figure

from resnet_jax import console, defaults, report_pictures, run_config, run_record, trials

PARETO = 'pareto.png'
_SHORT = {'learning_rate': 'lr', 'weight_decay': 'wd', 'label_smoothing': 'ls'}


def storage_text(url: str) -> str:
  """A storage URL without its password."""
  try:
    return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
  except sqlalchemy.exc.ArgumentError:
    return url  # Not a URL; nothing to hide.


def study_line(study: optuna.Study, config, workdir: str, worker_id: str) -> str:
  """Where the study is, how far it has come and how to watch it."""
  s = config.search
  found = study.get_trials(deepcopy=False)
  used = trials.slots_used(found)
  queued = trials.slots_used(t for t in found if t.state == optuna.trial.TrialState.WAITING)
  where = storage_text(s.storage) if s.storage else os.path.join(workdir, trials.JOURNAL)
  return (f'Study {study.study_name!r} in {where}: {len(used - queued)} of {s.trials} trials '
          f'started' + (f', {len(queued)} queued' if queued else '') + ', '
          f'{s.pruner} pruning on {s.objective} over up to {config.num_epochs:g} epochs; this '
          f'worker is {worker_id}. Watch it: optuna-dashboard {where}')


def _recipe(trial) -> str:
  return ' '.join(f'{_SHORT[name]}={value:.3g}' for name, value in trial.params.items()
                  if name in _SHORT)


def _val(trial) -> str:
  val = trial.user_attrs.get('val')
  return f'val acc {val["accuracy"]:.2%} loss {val["loss"]:.4g}' if val else 'no val metrics'


def trial_line(trial: optuna.trial.FrozenTrial) -> str:
  """One line of a finished trial: its fate, validation metrics, design, recipe, size, time."""
  head = f'trial {trial.number}'
  if trials.slot(trial) != trial.number:
    head += f' (retry of trial {trials.slot(trial)})'
  attrs = trial.user_attrs
  design = ' '.join(part for part in (attrs.get('design', ''), _recipe(trial)) if part)
  if 'refused' in attrs:
    return f'{head}: refused, {attrs["refused"]}' + (f': {design}' if design else '')
  epochs = attrs.get('val', {}).get('epoch')
  if trial.state == optuna.trial.TrialState.PRUNED:
    fate = f'pruned at epoch {epochs}'
  elif trial.state == optuna.trial.TrialState.COMPLETE:
    fate = f'complete, {epochs} epoch{"s" if epochs != 1 else ""}'
  else:
    fate = f'failed: {attrs.get("failure", trial.state.name.lower())}'
  size = (f'{attrs["params"]:,} params, {attrs["mflops"]:,.1f} MFLOPs/img' if 'params' in attrs
          else '')
  parts = [f'{head}: {fate}', _val(trial), design, size,
           console.duration(attrs['seconds']) if 'seconds' in attrs else '']
  return ' | '.join(part for part in parts if part)


def test_look_note(best: optuna.trial.FrozenTrial, looks: list[dict], workdir: str) -> str:
  """What the report of the pick's test evaluation says of it."""
  note = (f'the pick of the search in {workdir} (trial {best.number}, best by its validation '
          'metric); ')
  if not looks:
    return note + 'this is the search\'s one look at the test set'
  return note + (f'the test set was evaluated {len(looks)} time(s) before in this search, for '
                 f'{", ".join(look["run"] for look in looks)} (the study went on after), so this '
                 'test accuracy is no longer an unbiased estimate')


def pick_text(pick, search_config, workdir: str) -> str:
  """The pick (`study.Pick`) for a person: the best trial, its test look, the command that
  trains it on the whole training set."""
  if pick.busy:
    return (f'{pick.busy} trial{"s" if pick.busy > 1 else ""} of the study still running or '
            'waiting in other workers: the last worker to finish makes the pick (or run this '
            'command again then).')
  if pick.best is None:
    return ('No trial trained to the end of its schedule, so there is no pick: raise '
            'config.search.trials, or prune less (config.search.reduction_factor).')
  best = pick.best
  lines = [f'Best by {search_config.objective} (the test set unseen): trial {best.number}, '
           f'{_val(best)}: {best.user_attrs["design"]} {_recipe(best)}'.rstrip()
           + f', {best.user_attrs["params"]:,} params, {best.user_attrs["mflops"]:,.1f} '
           'MFLOPs/img.']
  if pick.look is None:
    worker = best.user_attrs.get('worker', {}).get('id', 'another machine')
    lines.append(f'Its test look is not made here: another worker is making it, or its run '
                 f'trained on {worker}, not this machine: run this command there to test it.')
  else:
    look = pick.look
    which = ("the search's one look at the test set" if not pick.earlier else
             f'look {len(pick.earlier) + 1} at the test set (the study went on after the first)')
    lines.append(f'Test accuracy of {look["run"]}: {look["accuracy"]:.2%} (loss '
                 f'{look["loss"]:.4g}), {which}; report: '
                 + os.path.join(workdir, look['run'], 'report.md'))
  verb = 'Trained' if search_config.final_epochs else 'Train it'
  lines.append(f'{verb} on the whole training set: {pick.command}')
  return '\n'.join(lines)


def command(config, config_file: str | None, workdir: str) -> str:
  """`python launch.py` with --config (config_file, or configs/default.py) and the flags that
  make it `config`: every field where the two differ, but the search's own."""
  base = _load_config_file(config_file) if config_file else defaults.get_config()
  ours, theirs = run_config.flat(config), run_config.flat(base)
  flags = [f'--config.{name}={_flag_value(value)}' for name, value in sorted(ours.items())
           if not name.startswith('search.') and value != theirs.get(name)]
  return shlex.join(['python', 'launch.py', '--config', config_file or 'configs/default.py',
                     '--workdir', workdir, *flags])


def _load_config_file(spec: str):
  """get_config() of a config file given as --config takes it: 'path.py' or 'path.py:argument'."""
  path, *argument = spec.split(':', 1)
  module_spec = importlib.util.spec_from_file_location('search_config_file', path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module.get_config(*argument)


def _flag_value(value) -> str:
  if isinstance(value, list):
    return ','.join(map(str, value)) if value else '()'
  return repr(value) if isinstance(value, float) else str(value)


def _wall_secs(trial, workdir: str) -> float | None:
  """Training time of a trial's run (all its sessions), or the trial's own time."""
  record = run_record.read(trials.run_dir(workdir, trial))
  if record:
    return run_record.wall_secs(record, running=False)
  return trial.user_attrs.get('seconds')


def pareto_points(study: optuna.Study, workdir: str) -> list[dict]:
  """The trials that trained, as points: number, complete (or pruned), validation accuracy at
  their last epoch, parameters, MFLOPs per image, training seconds."""
  points = []
  for trial in study.get_trials(deepcopy=False):
    val = trial.user_attrs.get('val')
    if val and trial.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED):
      points.append({'trial': trial.number, 'complete': trial.state.name == 'COMPLETE',
                     'accuracy': val['accuracy'], 'params': trial.user_attrs['params'],
                     'mflops': trial.user_attrs['mflops'],
                     'seconds': _wall_secs(trial, workdir)})
  return points


def pareto_front(points: list[dict], column: str) -> list[dict]:
  """The complete trials no other complete trial beats on both `column` (less) and accuracy
  (more), by `column`."""
  front = []
  for point in sorted((p for p in points if p['complete']),
                      key=lambda p: (p[column], -p['accuracy'])):
    if not front or point['accuracy'] > front[-1]['accuracy']:
      front.append(point)
  return front


def pareto_figure(points: list[dict]) -> Figure:
  """Validation accuracy against parameters, MFLOPs per image and training time: filled points
  trained to the end (their front drawn), hollow ones pruned (at their last epoch)."""
  figure = Figure(figsize=(15, 4.8))
  axes_row = figure.subplots(1, 3, sharey=True)
  for axes, (column, label) in zip(axes_row, (('params', 'trainable parameters'),
                                              ('mflops', 'MFLOPs per image'),
                                              ('seconds', 'training time (s)'))):
    shown = [p for p in points if p[column] is not None]
    for complete, style in ((True, {'color': 'C0'}),
                            (False, {'facecolors': 'none', 'edgecolors': 'C1'})):
      group = [p for p in shown if p['complete'] == complete]
      axes.scatter([p[column] for p in group], [100 * p['accuracy'] for p in group],
                   label='trained to the end' if complete else 'pruned', **style)
    front = pareto_front(shown, column)
    axes.step([p[column] for p in front], [100 * p['accuracy'] for p in front], where='post',
              color='C0', alpha=0.5, label='Pareto front')
    if len(shown) <= 30:  # Beyond that, numbers would cover the points.
      for p in shown:
        axes.annotate(str(p['trial']), (p[column], 100 * p['accuracy']), fontsize=7,
                      xytext=(3, 3), textcoords='offset points')
    values = [p[column] for p in shown if p[column] > 0]
    if values and max(values) > 20 * min(values):  # Sizes a decade or more apart.
      axes.set_xscale('log')
    axes.set(xlabel=label, title=f'against {label}')
    axes.grid(alpha=0.3)
  axes_row[0].set_ylabel('validation accuracy (%)')
  axes_row[0].legend(fontsize=8)
  figure.suptitle('Search: each trial\'s validation accuracy at its last epoch')
  return figure


def write_pareto(study: optuna.Study, workdir: str) -> str:
  """Writes `<workdir>/pareto.png`; returns its path."""
  return report_pictures.save(pareto_figure(pareto_points(study, workdir)),
                              os.path.join(workdir, PARETO))
