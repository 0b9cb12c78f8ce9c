"""The search on Optuna (--mode=search): refusals and pruning, selection on the validation split
with one look at the test set, two workers sharing a study, a killed worker's trial resumed and
counted once, the refusals that leave a study untouched, and PostgreSQL for several machines."""

import glob
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import optuna
import pytest

from resnet_jax import event_files, run_record, search_report, study, trials
from resnet_jax.errors import ConfigError
from tests.helpers import (ROOT, command_line_config, launch, saved_steps, tiny_config,
                           write_cifar_python)

# Two-layer designs of 4 and 8 channels: B = 1,1 (1,454 parameters) and 2,1 (1,758) fit the
# budget, 1,2 (2,638) and 2,2 (2,942) do not. 32 training images (4 steps of 8), 8 validation.
SEARCH = {'data.val_fraction': 0.2, 'num_epochs': 2.0, 'search.num_layers': (2,),
          'search.blocks': (1, 2), 'search.channels': (4,), 'model.max_params': 2000,
          'search.trials': 3, 'search.pruner': 'none', 'search.learning_rate': (0.01, 0.1)}


def flags(settings: dict) -> list[str]:
  def text(value):
    return ','.join(map(str, value)) if isinstance(value, tuple) else str(value)
  return [f'--config.{name}={text(value)}' for name, value in settings.items()]


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  return write_cifar_python(tmp_path_factory.mktemp('cifar'), num_train=40, num_test=16)


def search_config(data_dir, **overrides):
  return tiny_config(**({'data.dir': str(data_dir)} | SEARCH | overrides))


def journal_study(workdir) -> optuna.Study:
  storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
      str(workdir / trials.JOURNAL)))
  return optuna.load_study(study_name=os.path.basename(workdir), storage=storage)


def search_command(data_dir, workdir, **overrides) -> list[str]:
  return [sys.executable, str(ROOT / 'launch.py'), '--config', 'configs/tiny.py',
          '--mode=search', f'--workdir={workdir}',
          *flags({'data.dir': data_dir} | SEARCH | overrides)]


def start(command) -> subprocess.Popen:
  return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=dict(os.environ, JAX_PLATFORMS='cpu'))


def finish(proc: subprocess.Popen) -> str:
  out, err = proc.communicate(timeout=600)
  assert proc.returncode == 0, err[-3000:]
  return out


def counted(found) -> list:
  return [t for t in found.get_trials() if not trials.refused(t)]


@pytest.mark.slow
def test_pruned_and_refused_trials_and_only_the_pick_sees_the_test_set(data_dir, tmp_path):
  config = search_config(data_dir, **{'search.pruner': 'halving', 'search.min_epochs': 1,
                                      'search.reduction_factor': 2,
                                      'search.objective': 'val_loss'})
  workdir = tmp_path / 'search'
  lines = []
  found = study.run(config, str(workdir), on_trial=lambda trial: lines.append(trial))
  states = {t.number: t.state.name for t in counted(found)}
  assert len(states) == 3 and 'PRUNED' in states.values() and 'COMPLETE' in states.values()
  refused = [t for t in found.get_trials() if trials.refused(t)]
  assert refused and all('over the budget of 2,000' in t.user_attrs['refused'] for t in refused)
  assert sorted(os.listdir(workdir)) == sorted(
      ['locks', trials.JOURNAL] + [f'trial-{n:04d}' for n in states])  # None for the refused.
  assert [t.number for t in lines] == [t.number for t in found.get_trials()]  # One line each.
  for number, state in states.items():
    run = workdir / f'trial-{number:04d}'
    outcome = run_record.read(str(run))['sessions'][-1]['outcome']
    assert (outcome, saved_steps(run)[-1]) == (
        ('pruned', 4) if state == 'PRUNED' else ('finished', 8))  # 4 steps an epoch.
    assert not (run / 'report.json').exists()
    assert not [tag for tag in event_files.read_scalars(str(run)) if 'test' in tag]

  picked = study.pick(found, config, str(workdir), 'configs/tiny.py')
  complete = [t for t in counted(found) if t.state.name == 'COMPLETE']
  assert picked.best.number == min(complete, key=lambda t: t.intermediate_values[2]).number
  tested = workdir / f'trial-{picked.best.number:04d}'
  assert picked.tested == str(tested) and picked.reports['test']['num_images'] == 16
  assert [p for p in glob.glob(str(workdir / '*' / 'report.json'))] == [str(tested /
                                                                           'report.json')]
  assert "this is the search's one look at the test set" in (tested / 'report.md').read_text()
  words = shlex.split(picked.command)  # Trains the pick's design and recipe on all the data.
  assert words[:6] == ['python', 'launch.py', '--config', 'configs/tiny.py', '--workdir',
                       f'{workdir}/final']
  final = command_line_config(*words[6:]).config
  trial = json.loads((tested / 'config.json').read_text())
  assert (final.optimizer.learning_rate, final.data.val_fraction) == (
      trial['optimizer']['learning_rate'], 0)
  assert json.loads(final.model.to_json()) == trial['model']
  again = study.pick(found, config, str(workdir), 'configs/tiny.py')  # The look is made once.
  assert again.look == picked.look and again.reports is None
  assert len(found.user_attrs['test_looks']) == 1


@pytest.mark.slow
def test_two_workers_share_one_study(data_dir, tmp_path):
  workdir = tmp_path / 'search'
  command = search_command(data_dir, workdir, **{'num_epochs': 1, 'search.trials': 2})
  outputs = [finish(proc) for proc in [start(command), start(command)]]
  found = journal_study(workdir)
  assert len(counted(found)) == 2 and all(t.state.name == 'COMPLETE' for t in counted(found))
  ran = [line.split(':')[0] for out in outputs for line in out.splitlines()
         if line.startswith('trial ')]
  assert sorted(ran) == sorted(f'trial {t.number}' for t in found.get_trials())  # Each once.
  for trial in counted(found):
    assert len(run_record.read(str(workdir / f'trial-{trial.number:04d}'))['sessions']) == 1
  assert len(found.user_attrs['test_looks']) == 1  # One of them picked.


@pytest.mark.slow
def test_a_killed_workers_trial_is_resumed_and_counted_once(data_dir, tmp_path):
  workdir = tmp_path / 'search'
  settings = {'search.trials': 1, 'num_epochs': 4, 'search.blocks': (1,)}  # None refused.
  command = search_command(data_dir, workdir, **settings)
  proc = start(command)
  run = workdir / 'trial-0000'
  deadline = time.time() + 300
  while not saved_steps(run):  # Killed mid-trial, after its first checkpoint.
    assert proc.poll() is None and time.time() < deadline, proc.stderr.read()
    time.sleep(0.02)
  proc.kill()
  proc.communicate()
  killed_at = saved_steps(run)[-1]
  assert killed_at < 16

  out = finish(start(command))
  found = journal_study(workdir)
  assert [(t.number, t.state.name, trials.slot(t)) for t in found.get_trials()] == [
      (0, 'FAIL', 0), (1, 'COMPLETE', 0)]
  assert 'trial 1 (retry of trial 0): complete, 4 epochs' in out
  _, second = run_record.read(str(run))['sessions']
  assert killed_at <= second['first_step'] and second['last_step'] == 16
  assert sorted(os.listdir(workdir / 'locks')) == ['pick']  # The dead worker's lock is gone.
  assert found.user_attrs['test_looks'][0]['run'] == 'trial-0000'

  journal = (workdir / trials.JOURNAL).read_bytes()  # The same study with another space:
  proc = launch(*search_command(data_dir, workdir, **settings | {'search.blocks': (1, 2)})[2:])
  assert proc.returncode == 2 and proc.stderr.count('\n') == 1, proc.stderr
  assert proc.stderr.startswith("error: the study 'search' (study.journal in --workdir) was "
                                'started with config.search.blocks=1 and this command has '
                                '1,2')
  assert (workdir / trials.JOURNAL).read_bytes() == journal


def free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


@pytest.mark.parametrize('overrides,expected', [
    ({'model.max_params': 1000}, 'no design from config.search fits the budget of 1,000 '
                                 'parameters (config.model.max_params): the smallest, B=1,1'),
    ({'search.storage': 'not a url'}, "config.search.storage=not a url: Could not parse"),
    ({'search.storage': 'nosuchdb://host/db'}, 'config.search.storage=nosuchdb://host/db: Can'),
    ({'search.storage': f'postgresql+psycopg://user:secret@127.0.0.1:{free_port()}/db'},
     'config.search.storage=postgresql+psycopg://user:***@127.0.0.1:'),
], ids=['empty space', 'malformed URL', 'unknown database', 'unreachable'])
def test_refusals_before_anything_is_written(data_dir, tmp_path, overrides, expected):
  with pytest.raises(ConfigError) as e:
    study.run(search_config(data_dir, **overrides), str(tmp_path / 'search'))
  assert str(e.value).startswith(expected) and '\n' not in str(e.value)
  assert 'secret' not in str(e.value)
  if 'psycopg' in expected:
    assert 'Connection refused' in str(e.value)
  assert not (tmp_path / 'search').exists()


def test_a_changed_search_space_is_refused_and_the_study_untouched(data_dir, tmp_path):
  workdir = str(tmp_path / 'search')
  config = search_config(data_dir)
  study.open_study(config, workdir, study.open_storage(config.search, workdir))
  journal = (tmp_path / 'search' / trials.JOURNAL).read_bytes()
  changed = search_config(data_dir, **{'search.blocks': (1, 2, 3)})
  with pytest.raises(ConfigError, match=r"^the study 'search' \(study.journal in workdir\) was "
                                        r'started with config.search.blocks=1,2 and this command '
                                        r'has 1,2,3; a study keeps its search space') as refused:
    study.open_study(changed, workdir, study.open_storage(changed.search, workdir))
  assert refused.value.command_line().startswith(
      "the study 'search' (study.journal in --workdir) was started with config.search.blocks=1,2")
  assert (tmp_path / 'search' / trials.JOURNAL).read_bytes() == journal
  more = search_config(data_dir, **{'search.trials': 9})  # The budget may change.
  study.open_study(more, workdir, study.open_storage(more.search, workdir))


def test_a_trial_draws_the_same_design_whichever_worker_takes_it(data_dir):
  config = search_config(data_dir, **{'search.blocks': (1, 2, 3), 'search.sampler': 'random'})
  space = study.Space(config)

  def draws():
    found = optuna.create_study(sampler=study._sampler(config))  # pylint: disable=protected-access
    designs = []
    for _ in range(6):
      trial = found.ask()
      designs.append(space.sample(trial))
      found.tell(trial, 0.0)
    return designs

  first = draws()
  assert draws() == first and len(set(map(str, first))) > 1


def test_the_study_line_counts_started_and_queued_trials(data_dir, tmp_path):
  config = search_config(data_dir)
  found = optuna.create_study(study_name='s', direction=study.direction(config.search))
  for _ in range(3):
    found.enqueue_trial({'num_layers': 2})
  trial = found.ask()
  found.tell(trial, 1.0)
  line = search_report.study_line(found, config, str(tmp_path), 'worker-1')
  assert line.startswith(f"Study 's' in {tmp_path}/study.journal: 1 of 3 trials started, "
                         '2 queued, none pruning on val_loss over up to 2 epochs;')


@pytest.fixture(scope='module')
def postgres():
  """A PostgreSQL server of its own (Debian's postgresql package), on a free loopback port, as
  the postgres user when this runs as root; stopped and removed at the end. Yields its URL."""
  initdb = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb')) or [shutil.which('initdb')]
  if not initdb[-1]:
    if os.environ.get('CI') == 'true':
      pytest.fail('no PostgreSQL server (initdb) on this machine: install postgresql-15')
    pytest.skip('no PostgreSQL server (initdb) on this machine')
  bin_dir = os.path.dirname(initdb[-1])
  as_user = ['runuser', '-u', 'postgres', '--'] if os.geteuid() == 0 else []
  root = tempfile.mkdtemp(prefix='postgres_')
  if as_user:
    shutil.chown(root, 'postgres')
  data, port = os.path.join(root, 'data'), free_port()

  def postgres_tool(name, *args):
    subprocess.run([*as_user, os.path.join(bin_dir, name), *args], check=True,
                   capture_output=True, timeout=120)

  postgres_tool('initdb', '-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync')
  postgres_tool('pg_ctl', '-D', data, '-l', os.path.join(root, 'log'), '-w', '-o',
                f'-k {root} -c listen_addresses=127.0.0.1 -p {port} -c fsync=off', 'start')
  try:
    postgres_tool('createdb', '-h', '127.0.0.1', '-p', str(port), '-U', 'postgres', 'search')
    yield f'postgresql+psycopg://postgres@127.0.0.1:{port}/search'
  finally:
    postgres_tool('pg_ctl', '-D', data, '-m', 'immediate', '-w', 'stop')
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_workers_on_two_machines_share_a_postgresql_study(data_dir, tmp_path, postgres):
  """Two workdirs of one name stand for two machines' disks: the study (named after the workdir)
  and its budget are shared through the server; each trial trains once, where it was taken."""
  one, two = tmp_path / 'one' / 'search', tmp_path / 'two' / 'search'
  shared = {'search.storage': postgres, 'num_epochs': 1}
  study.run(search_config(data_dir, **shared, **{'search.trials': 1}), str(one))
  config = search_config(data_dir, **shared, **{'search.trials': 2})
  found = study.run(config, str(two))
  runs = [f'trial-{t.number:04d}' for t in counted(found)]
  assert len(runs) == 2 and all(t.state.name == 'COMPLETE' for t in counted(found))
  assert [sorted(p.name for p in d.glob('trial-*')) for d in (one, two)] == [runs[:1], runs[1:]]
  picked = study.pick(found, config, str(two))
  assert (picked.look is None) == (picked.best.number != counted(found)[1].number)
  with pytest.raises(ConfigError, match='was started with config.search.blocks=1,2 and this'):
    study.run(search_config(data_dir, **shared, **{'search.blocks': (1,)}), str(two))
