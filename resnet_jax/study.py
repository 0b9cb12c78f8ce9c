"""`--mode=search`: a multi-fidelity search over designs and recipes, on Optuna.

A study (Optuna's storage, sampler and pruner) hands out trials; each samples a design and the
recipe fields config.search ranges over, is refused before any training if it is over the
parameter budget (and then not counted), and trains as a normal run in <workdir>/trial-NNNN on
the worker's device-resident training and validation splits. It reports its validation metric
after every epoch of one schedule of config.num_epochs, and the pruner (Hyperband or successive
halving) stops the weak ones. The test set is never loaded until the study is over: then the
best trial alone (or, with config.search.final_epochs, its design and recipe trained on the
whole training set) is evaluated on it, once.

Workers are processes running the same command, one per GPU or machine; they share the study
through its storage, and `config.search.trials` is a total over all of them. A worker holds the
lock <workdir>/locks/<host>-<pid> while it lives and names it in each trial it runs, so a trial
left RUNNING by a killed worker is told from a live one, failed and retried: the retry trains
in the same run folder and resumes from its checkpoint. With a database storage, Optuna's
heartbeat does the same for workers on machines whose files this one cannot see.
"""

import contextlib
import dataclasses
import os
import shutil
import socket
import time
import warnings

import jax
import numpy as np
import optuna
import sqlalchemy
from absl import logging

from resnet_jax import (checkpoints, designs, models, parallel, preemption, run_config, search,
                        search_report, train, trials, validation, workdir_lock)
from resnet_jax.errors import ConfigError, NonFiniteLoss

FINAL = 'final'  # The folder of the final run (config.search.final_epochs).
LOCKS = 'locks'  # Workers' locks, and the lock of the pick.
# Recipe fields a search may range over: (config.search field, config field, log scale).
RECIPE = (('learning_rate', 'optimizer.learning_rate', True),
          ('weight_decay', 'optimizer.weight_decay', True),
          ('label_smoothing', 'label_smoothing', False))
# Fields that may change between commands of one study: they do not change what a trial is.
MAY_CHANGE = ('search.trials', 'search.sampler', 'search.final_epochs', 'search.storage',
              'search.study_name', 'search.preview', 'search.scale', 'search.max_designs',
              'search.depth_coefficient', 'search.width_coefficient', 'search.phi_step',
              'search.rows', 'data.dir', 'log_every_steps', 'checkpoint_every_epochs',
              'checkpoint_every_steps', 'keep_checkpoints', 'profile_steps', 'steps_per_dispatch',
              'eval_batch_size')
MAX_REFUSALS = 200  # Designs in a row over the budget before a search gives up.
# A RUNNING trial that names no live worker is dead this long after its start (its worker died
# between taking the trial and naming itself).
UNNAMED_GRACE_SECS = 60
# Database storages: Optuna's heartbeat, and when a trial without one is failed and retried.
HEARTBEAT_SECS, GRACE_SECS = 60, 180


class Space:
  """The designs and recipes of config.search, as Optuna's distributions: N, C_1, then B_i, F_i
  and K_i of each layer, P, and the recipe ranges that are set."""

  def __init__(self, config):
    self.config, self.search = config, config.search
    self.metric = config.search.objective.removeprefix('val_')

  def sample(self, trial: optuna.Trial) -> tuple[designs.Design, dict[str, float]]:
    """The trial's design and recipe ({config field: value})."""
    s = self.search
    n = trial.suggest_categorical('num_layers', s.num_layers)
    c1 = trial.suggest_categorical('channels', s.channels)
    per_layer = {field: tuple(trial.suggest_categorical(f'{field}_{i + 1}', s[field])
                              for i in range(n))
                 for field in ('blocks', 'conv_kernel', 'skip_kernel')}
    pool = trial.suggest_categorical('pool', s.pool)
    recipe = {field: trial.suggest_float(name, *s[name], log=log)
              for name, field, log in RECIPE if s[name]}
    return designs.Design(channels=designs.doubling(c1, n), pool=pool, **per_layer), recipe

  def refusal(self, design: designs.Design) -> str | None:
    """Why `design` is not trained, or None: a pool wider than its last feature map, or more
    parameters than the budget (counted, not built)."""
    side = search.final_size(len(design.blocks))
    if design.pool > side:
      return (f'P={design.pool} is wider than the {side}x{side} last feature map of a '
              f'{len(design.blocks)}-layer design')
    count, budget = search.count_params(design, self.config.model), self.config.model.max_params
    if budget and count > budget:
      return f'{count:,} parameters, over the budget of {budget:,}'
    return None

  def smallest(self) -> designs.Design:
    """The design with the fewest parameters; refuses (ConfigError) a space with nothing to
    train: no pool fits, or even that design is over the budget. Each depth's smallest design
    is validated as a model too."""
    s, budget = self.search, self.config.model.max_params
    candidates = [designs.Design((min(s.blocks),) * n,
                                 designs.doubling(min(s.channels), n),
                                 (min(s.conv_kernel),) * n, (min(s.skip_kernel),) * n, pool)
                  for n in s.num_layers for pool in s.pool if pool <= search.final_size(n)]
    if not candidates:
      raise search.no_pool_error(s)
    for design in candidates:
      validation.check_design(design.apply(self.config).model)
    count, design = min((search.count_params(d, self.config.model), d) for d in candidates)
    if budget and count > budget:
      raise ConfigError(
          f'no design from config.search fits the budget of {budget:,} parameters '
          f'(config.model.max_params): the smallest, '
          f'{design.text}, has {count:,}; allow smaller designs or raise the budget')
    return design


def trial_config(config, design: designs.Design, recipe: dict[str, float], **changes):
  """The run config of a trial: `config` with the design, the recipe and `changes` (flattened
  fields: {'num_epochs': 30.0})."""
  config = design.apply(config)
  config.update_from_flattened_dict(recipe | changes)
  return config


def open_storage(search_config, workdir: str) -> optuna.storages.BaseStorage:
  """config.search.storage, or the journal file in `workdir`; a bad or unreachable URL is a
  one-line ConfigError, before anything is written."""
  url = search_config.storage
  if not url:
    os.makedirs(workdir, exist_ok=True)
    return optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(os.path.join(workdir, trials.JOURNAL)))
  where = search_report.storage_text(url)
  if url.startswith('sqlite'):
    logging.warning('config.search.storage=%s: SQLite takes one writer at a time, so workers may '
                    'fail on "database is locked"; the default journal file or PostgreSQL takes '
                    'many.', where)
  options = {'connect_args': {'connect_timeout': 10}} if url.startswith('postgres') else {}
  try:
    with warnings.catch_warnings():
      warnings.simplefilter('ignore', optuna.exceptions.ExperimentalWarning)
      return optuna.storages.RDBStorage(
          url, engine_kwargs=options, heartbeat_interval=HEARTBEAT_SECS, grace_period=GRACE_SECS,
          heartbeat_stale_trial_callback=_retry_callback())
  except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError, RuntimeError) as e:
    # The driver's own words for a connection error; the missing module for a missing driver.
    reason = getattr(e, 'orig', None) or e.__cause__ or e
    raise ConfigError('config.search.storage=%s: %s; give a URL that Optuna takes, e.g. '
                      'postgresql+psycopg://user:password@host:5432/db, or leave it empty for a '
                      'journal file in workdir', where, _one_line(reason),
                      arguments=('workdir',)) from None


def _one_line(error: Exception) -> str:
  lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
  return (lines[0] if lines else type(error).__name__).rstrip('.')


def _retry_callback():
  """Re-queues a failed trial with its parameters, attributes and reported values: the retry
  resumes the same run (`slot`)."""
  with warnings.catch_warnings():
    warnings.simplefilter('ignore', optuna.exceptions.ExperimentalWarning)
    return optuna.storages.RetryHeartbeatStaleTrialCallback(inherit_intermediate_values=True)


def direction(search_config) -> str:
  return 'minimize' if search_config.objective == 'val_loss' else 'maximize'


def space_record(config) -> dict:
  """What makes a trial what it is, for comparing commands of one study: the config but the
  fields of `MAY_CHANGE` and the benchmark section, flattened, as JSON values."""
  return {name: value for name, value in run_config.flat(config).items()
          if name not in MAY_CHANGE and not name.startswith('benchmark.')}


def study_name(search_config, workdir: str) -> str:
  return search_config.study_name or os.path.basename(os.path.abspath(workdir))


def open_study(config, workdir: str, storage) -> optuna.Study:
  """The study of this search, created if new; refuses (ConfigError, the study untouched) one
  made with another search space."""
  s, name = config.search, study_name(config.search, workdir)
  record = space_record(config)
  try:
    study = optuna.load_study(study_name=name, storage=storage)
  except KeyError:  # No such study yet.
    study = optuna.create_study(study_name=name, storage=storage, direction=direction(s),
                                load_if_exists=True)
  stored = study.user_attrs.get('space')
  if stored is None:
    study.set_user_attr('space', record)
  elif stored != record:
    field = next(f for f in sorted(set(stored) | set(record)) if stored.get(f) != record.get(f))
    where = '%s' if s.storage else '%s in workdir'  # The storage: its URL, or the journal.
    raise ConfigError(
        f'the study %r ({where}) was started with config.%s=%s and this command has %s; a study '
        'keeps its search space: run it as it was, or start another (a new workdir, or '
        'config.search.study_name)', name,
        search_report.storage_text(s.storage) if s.storage else trials.JOURNAL, field,
        _text(stored.get(field)), _text(record.get(field)),
        arguments=('workdir', 'config.search.study_name'))
  return optuna.load_study(study_name=name, storage=storage, sampler=_sampler(config),
                           pruner=_pruner(config))


def _text(value) -> str:
  return 'nothing' if value is None else ','.join(map(str, value)) if isinstance(
      value, list) else repr(value)


class _SeededPerTrial(optuna.samplers.BaseSampler):
  """`make(seed)`'s sampler, seeded afresh for each trial from (config.seed, its number): a
  trial's draw depends on the study's history and its number, not on which worker took it, so
  workers that start together draw different designs, and one worker's search is repeatable."""

  def __init__(self, make, seed: int):
    self._make, self._seed = make, seed
    self._sampler = make(seed)

  def before_trial(self, study, trial):
    self._sampler = self._make(int(np.random.SeedSequence([self._seed, trial.number])
                                   .generate_state(1)[0]))
    self._sampler.before_trial(study, trial)

  def infer_relative_search_space(self, study, trial):
    return self._sampler.infer_relative_search_space(study, trial)

  def sample_relative(self, study, trial, search_space):
    return self._sampler.sample_relative(study, trial, search_space)

  def sample_independent(self, study, trial, param_name, param_distribution):
    return self._sampler.sample_independent(study, trial, param_name, param_distribution)

  def after_trial(self, study, trial, state, values):
    self._sampler.after_trial(study, trial, state, values)

  def reseed_rng(self):
    self._sampler.reseed_rng()


def _sampler(config) -> optuna.samplers.BaseSampler:
  make = {'tpe': lambda seed: optuna.samplers.TPESampler(seed=seed),
          'random': lambda seed: optuna.samplers.RandomSampler(seed=seed)}[config.search.sampler]
  return _SeededPerTrial(make, config.seed)


def _pruner(config) -> optuna.pruners.BasePruner:
  s = config.search
  if s.pruner == 'hyperband':
    return optuna.pruners.HyperbandPruner(min_resource=s.min_epochs,
                                          max_resource=int(config.num_epochs),
                                          reduction_factor=s.reduction_factor)
  if s.pruner == 'halving':
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=s.min_epochs,
                                                  reduction_factor=s.reduction_factor)
  return optuna.pruners.NopPruner()


@contextlib.contextmanager
def worker(workdir: str):
  """This process as a worker of the study: yields its id, whose lock, <workdir>/locks/<id>, it
  holds while it lives (a trial names its worker, so a dead worker's trials are told)."""
  worker_id = f'{socket.gethostname()}-{os.getpid()}'
  lock_dir = os.path.join(workdir, LOCKS, worker_id)
  with workdir_lock.exclusive(lock_dir):
    yield worker_id
  shutil.rmtree(lock_dir, ignore_errors=True)  # Its trials are finished: none names it now.


def is_dead(trial: optuna.trial.FrozenTrial, workdir: str, now: float) -> bool:
  """Whether a RUNNING trial's worker is gone: the worker it names has no live lock here, or it
  names none (a retry still bears the name of its predecessor's) long after its start. A worker
  whose lock this machine cannot see (another machine's disk) is left to Optuna's heartbeat."""
  worker = trial.user_attrs.get('worker')
  if worker and worker['trial'] == trial.number:
    lock_dir = os.path.join(workdir, LOCKS, worker['id'])
    return os.path.exists(os.path.join(lock_dir, 'lock')) and not workdir_lock.is_held(lock_dir)
  return now - trial.datetime_start.timestamp() > UNNAMED_GRACE_SECS


def recover_dead_trials(study: optuna.Study, workdir: str) -> list[int]:
  """Fails each dead RUNNING trial and queues its retry; returns their numbers. Of two workers
  doing this at once, one fails a trial and retries it (the storage refuses the other)."""
  recovered, now = [], time.time()
  for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
    if not is_dead(trial, workdir, now):
      continue
    try:
      study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    except (ValueError, optuna.exceptions.UpdateFinishedTrialError):
      continue  # Another worker failed it first.
    _retry(study, trial.number)
    recovered.append(trial.number)
    if worker := trial.user_attrs.get('worker'):  # Its lock, if it named one, is dead.
      shutil.rmtree(os.path.join(workdir, LOCKS, worker['id']), ignore_errors=True)
  return recovered


def _retry(study: optuna.Study, number: int) -> None:
  failed = next(t for t in study.get_trials(deepcopy=False) if t.number == number)
  _retry_callback()(study, failed)


class Objective:
  """A trial, from sampling to its value: refusals, the run, the reports to the pruner."""

  def __init__(self, config, workdir: str, data, worker_id: str, progress=None):
    self.config, self.workdir, self.data, self.worker_id = config, workdir, data, worker_id
    self.progress = progress  # Each trial's run tells it of itself: `train_and_evaluate`'s.
    self.space = Space(config)
    self.refusals_in_a_row = 0  # Designs refused by the space since the last one trained.

  def __call__(self, trial: optuna.Trial) -> float:
    started = time.time()
    trial.set_user_attr('worker', {'id': self.worker_id, 'trial': trial.number})
    if 'slot' not in trial.user_attrs:  # A new trial, not a retry: within the budget?
      earlier = {s for s in trials.slots_used(trial.study.get_trials(deepcopy=False))
                 if s < trial.number}
      if len(earlier) >= self.config.search.trials:
        self._refuse(trial, f'the study has its {self.config.search.trials} trials')
      trial.set_user_attr('slot', trial.number)
    design, recipe = self.space.sample(trial)
    config = trial_config(self.config, design, recipe)
    trial.set_user_attr('design', designs.Design.of(config.model).text)
    if (reason := self.space.refusal(design)) is not None:
      self.refusals_in_a_row += 1
      self._refuse(trial, reason)
    self.refusals_in_a_row = 0
    trial.set_user_attr('params', search.count_params(design, config.model))
    trial.set_user_attr('mflops', models.flops_per_image(models.create_model(config.model)) / 1e6)
    metric, last_epoch = self.space.metric, int(config.num_epochs)
    reported = {}

    def on_epoch(epoch: int, results) -> bool:
      val = results['val']
      trial.set_user_attr('val', {'epoch': epoch, 'accuracy': val['accuracy'],
                                  'loss': val['loss']})
      trial.report(val[metric], epoch)
      reported['epoch'] = epoch
      reported['pruned'] = epoch < last_epoch and trial.should_prune()
      return reported['pruned']

    try:
      train.train_and_evaluate(config, trials.run_dir(self.workdir, trial), data=self.data,
                               on_epoch=on_epoch, started=started, progress=self.progress)
    except NonFiniteLoss as e:
      trial.set_user_attr('failure', e.command_line())  # For the trial lines, which give flags.
      raise
    finally:
      trial.set_user_attr('seconds', time.time() - started)
    if reported.get('pruned'):
      raise optuna.TrialPruned(f'pruned at epoch {reported["epoch"]}')
    # A retry whose run had finished before its worker died reports nothing new: its
    # predecessor's values are inherited.
    frozen = next(t for t in trial.study.get_trials(deepcopy=False) if t.number == trial.number)
    return frozen.intermediate_values[max(frozen.intermediate_values)]

  @staticmethod
  def _refuse(trial: optuna.Trial, reason: str):
    trial.set_user_attr('refused', reason)
    raise optuna.TrialPruned(f'refused: {reason}')


def optimize(study: optuna.Study, config, workdir: str, data, worker_id: str,
             on_trial=None, progress=None) -> None:
  """This worker's trials, until the study's budget is spent and no retry waits.

  `on_trial(study, frozen_trial)` is called after each; `progress` hears of each trial's run
  (`train.train_and_evaluate`'s). Several refusals in a row end the search
  with a ConfigError (the space is nearly all over the budget); SIGTERM / SIGINT stop it after
  checkpointing the trial, which the next command resumes.
  """
  objective = Objective(config, workdir, data, worker_id, progress)
  waiting = (optuna.trial.TrialState.WAITING,)
  while True:
    recover_dead_trials(study, workdir)
    if (len(trials.slots_used(study.get_trials(deepcopy=False))) >= config.search.trials
        and not study.get_trials(deepcopy=False, states=waiting)):
      return
    try:
      study.optimize(objective, n_trials=1, catch=(NonFiniteLoss,),
                     callbacks=[on_trial] if on_trial else None)
    except preemption.Preempted:
      _retry(study, max(t.number for t in study.get_trials(deepcopy=False)
                        if t.user_attrs.get('worker', {}).get('id') == worker_id))
      raise
    if objective.refusals_in_a_row >= MAX_REFUSALS:
      raise ConfigError(
          f'the last {MAX_REFUSALS} designs sampled were all refused (over the budget of '
          f'{config.model.max_params:,} parameters, or a pool wider than the last feature '
          'map); narrow config.search to designs that fit')


def load_data(config, mesh) -> dict:
  """The training and validation splits, on the devices once for every trial of this worker;
  the test split is not loaded."""
  return parallel.put_global(train.load_splits(config, with_test=False),
                             parallel.replicated(mesh))


def run(config, workdir: str | None, *, on_open=None, on_trial=None,
        progress=None) -> optuna.Study:
  """This worker's part of the study in `workdir` (--mode=search): checks everything first (the
  config, an empty space, the storage, a changed space: ConfigError, the study untouched), then
  trains trials until the study's budget is spent; returns the study.

  `on_open(study, worker_id)` is called once it is open, `on_trial(frozen_trial)` after each
  trial of this worker; `progress` hears of each trial's run (`train.train_and_evaluate`'s).
  """
  validation.check_search(config)
  if not workdir:
    raise ConfigError('workdir is required for a search: its trials train in '
                      '<workdir>/trial-NNNN (or config.search.preview=True lists designs)',
                      arguments=('workdir', 'config.search.preview'))
  if jax.process_count() > 1:
    raise ConfigError('a search runs one worker per process: start the same command once per '
                      'GPU or machine, without --distributed; they share the study')
  smallest = Space(config).smallest()
  mesh = parallel.make_mesh()
  for end in ('low', 'high'):  # Every run setting, at both ends of the recipe ranges.
    validation.check_config(trial_config(config, smallest, recipe_end(config, end)),
                            num_devices=mesh.size)
  optuna.logging.set_verbosity(optuna.logging.ERROR)  # `on_trial` tells of each trial.
  folders = trials.run_folders(workdir)  # Listed before the study is read: see `check_folders`.
  storage = open_storage(config.search, workdir)
  study = open_study(config, workdir, storage)
  check_folders(study, workdir, folders)
  with worker(workdir) as worker_id:
    if on_open is not None:
      on_open(study, worker_id)
    optimize(study, config, workdir, load_data(config, mesh), worker_id,
             on_trial=on_trial and (lambda _, trial: on_trial(trial)), progress=progress)
  return study


def recipe_end(config, end: str) -> dict[str, float]:
  """The recipe at the `end` ('low' or 'high') of every range config.search sets."""
  return {field: config.search[name][end == 'high']
          for name, field, _ in RECIPE if config.search[name]}


def check_folders(study: optuna.Study, workdir: str, folders: set[str]) -> None:
  """Refuses run folders in `workdir` that are no trial's of `study` (left by another study):
  a trial would resume another's run. `folders` are listed before the study's trials are read,
  so a folder a worker makes meanwhile belongs to a trial that is read."""
  ours = {os.path.basename(trials.run_dir(workdir, t)) for t in study.get_trials(deepcopy=False)}
  if strangers := sorted(folders - ours):
    raise ConfigError('%s is no run of the study %r: it is left from another study; give this '
                      'search a new workdir', os.path.join(workdir, strangers[0]),
                      study.study_name, arguments=('workdir',))


@dataclasses.dataclass(frozen=True)
class Pick:
  """The study's pick and its test look, as far as this command got.

  `busy`: trials still running or waiting in other workers (no pick yet); `best`: the best
  complete trial by the validation metric (None: none completed); `command`: trains it on the
  whole training set; `tested`: the run whose checkpoint the test look evaluates (empty: not
  here: `best` trained on another machine, or another worker is making the pick); `look`: that
  look ({'run', 'trial', 'accuracy', 'loss'}); `earlier`: the study's looks before it; `reports`:
  the reports this command wrote (`train.evaluate_checkpoint`'s), None if the look was made
  before.
  """
  busy: int = 0
  best: optuna.trial.FrozenTrial | None = None
  command: str = ''
  tested: str = ''
  look: dict | None = None
  earlier: tuple[dict, ...] = ()
  reports: dict | None = None


def pick(study: optuna.Study, config, workdir: str, config_file: str | None = None, *,
         progress=None) -> Pick:
  """Once no trial runs or waits: the best trial, tested once (with config.search.final_epochs,
  its design and recipe trained on the whole training set in <workdir>/final first, and that
  tested instead), and the command that trains it. Run again, it reuses the look it made.

  `config_file` (as given to --config) starts the command; `progress` hears of the final run.
  """
  finished = study.get_trials(deepcopy=False)
  if busy := sum(not t.state.is_finished() for t in finished):
    return Pick(busy=busy)
  if not any(t.state == optuna.trial.TrialState.COMPLETE for t in finished):
    return Pick()
  best = study.best_trial
  design, recipe = Space(config).sample(optuna.trial.FixedTrial(best.params, best.number))
  final_dir = os.path.join(workdir, FINAL)
  final_epochs = config.search.final_epochs or config.num_epochs
  final = trial_config(config, design, recipe, num_epochs=float(final_epochs),
                       **{'data.val_fraction': 0.0})
  chosen = Pick(best=best, command=search_report.command(final, config_file, final_dir))
  if config.search.final_epochs:
    tested, tested_dir = final, final_dir
  else:
    tested, tested_dir = trial_config(config, design, recipe), trials.run_dir(workdir, best)
    if not os.path.isdir(os.path.join(tested_dir, checkpoints.LATEST)):
      return chosen  # Trained on another machine: the command there tests it.
  with contextlib.ExitStack() as stack:
    try:
      stack.enter_context(workdir_lock.exclusive(os.path.join(workdir, LOCKS, 'pick')))
    except ConfigError:
      return chosen  # Another worker is making the pick.
    if config.search.final_epochs:
      train.train_and_evaluate(final, final_dir, data=train.load_splits(final, with_test=False),
                               progress=progress)
    looks = study.user_attrs.get('test_looks', [])
    run = os.path.relpath(tested_dir, workdir)
    if look := next((look for look in looks if look['run'] == run), None):
      return dataclasses.replace(chosen, tested=tested_dir, look=look,
                                 earlier=tuple(looks[:looks.index(look)]))
    results = train.evaluate_checkpoint(
        tested, tested_dir, note=search_report.test_look_note(best, looks, workdir))
    look = {'run': run, 'trial': best.number, 'accuracy': results['test']['accuracy'],
            'loss': results['test']['loss']}
    study.set_user_attr('test_looks', looks + [look])
    return dataclasses.replace(chosen, tested=tested_dir, look=look, earlier=tuple(looks),
                               reports=results)
