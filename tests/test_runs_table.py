"""The table of runs, built from workdirs written here: a finished run, one stopped early, a
killed one, an old one without run.json, one running (its lock held) and a search's nested run;
and a row for runs in every other state: killed before run.json or before its first evaluation
(also a real one, through launch.py), a search's pruned trial, a report without metrics."""

import csv
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from clu import metric_writers

from resnet_jax import (cli, defaults, designs, models, run_config, run_record, runs_table,
                        workdir_lock)
from resnet_jax.errors import ConfigError
from tests.helpers import ROOT, launch, tiny_config, write_cifar_python

SESSION = {'platform': 'gpu', 'device_kind': 'NVIDIA H200', 'device_count': 8,
           'process_count': 1, 'host': 'node7', 'first_step': 0}


def make_run(workdir, *, channels=(4, 8), accuracies=None, sessions=None, checkpoint=None,
             steps_per_epoch=10, num_epochs=3, split='test'):
  """A workdir as a run leaves it: config.json, `split` accuracies logged at epoch ends (with
  the epoch, as training logs it), checkpoint step folders, and run.json if `sessions` are
  given."""
  config = tiny_config(**{'model.channels': channels, 'num_epochs': num_epochs})
  run_config.save(config, str(workdir))
  writer = metric_writers.create_default_writer(str(workdir), asynchronous=False)
  for epoch, accuracy in enumerate(accuracies or [], start=1):
    writer.write_scalars(epoch * steps_per_epoch, {'epoch': float(epoch),
                                                   f'{split}_accuracy': accuracy})
  writer.close()
  if checkpoint is not None:
    (workdir / 'checkpoints' / str(checkpoint)).mkdir(parents=True)
    (workdir / 'checkpoints' / f'{checkpoint + 1}.orbax-checkpoint-tmp-123').mkdir()
  if sessions is not None:
    record = {'num_steps': steps_per_epoch * num_epochs, 'steps_per_epoch': steps_per_epoch,
              'sessions': [SESSION | s for s in sessions]}
    (workdir / run_record.FILENAME).write_text(json.dumps(record))
  return config


@pytest.fixture
def runs(tmp_path):
  now = time.time()
  make_run(tmp_path / 'finished', accuracies=[0.3, 0.5, 0.45], checkpoint=30, sessions=[
      {'started': 'a', 'started_unix': now - 500, 'last_seen_unix': now - 400,
       'outcome': 'finished'}])
  # Killed after 100 s, resumed 1000 s later, stopped early after another 50 s.
  make_run(tmp_path / 'search' / 'B=1,1 C=8,16', channels=(8, 16), accuracies=[0.6, 0.55],
           checkpoint=20, sessions=[
               {'started': 'b', 'started_unix': now - 2000, 'last_seen_unix': now - 1900},
               {'started': 'c', 'started_unix': now - 900, 'last_seen_unix': now - 850,
                'outcome': 'stopped early'}])
  make_run(tmp_path / 'killed', accuracies=[0.2], checkpoint=10, sessions=[
      {'started': 'd', 'started_unix': now - 300, 'last_seen_unix': now - 280}])
  make_run(tmp_path / 'old', accuracies=[0.1, 0.4, 0.42], checkpoint=30)  # Before run.json.
  make_run(tmp_path / 'running', accuracies=[0.25], checkpoint=10, sessions=[
      {'started': 'e', 'started_unix': now - 60, 'last_seen_unix': now - 50}])
  (tmp_path / 'not a run').mkdir()
  return tmp_path


def test_every_run_gets_a_row_with_what_its_workdir_tells(runs):
  with open(runs / 'running' / 'lock', 'w') as lock:  # As the training process holds it.
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    rows = runs_table.build(str(runs), defaults=defaults.get_config())
    assert workdir_lock.is_held(str(runs / 'running'))
  assert not workdir_lock.is_held(str(runs / 'running'))  # Released with its holder.
  by_run = {row['run']: row for row in rows}
  # Best test accuracy first, runs without one last.
  assert [row['run'] for row in rows] == ['search/B=1,1 C=8,16', 'finished', 'old', 'running',
                                          'killed']
  assert {run: row['status'] for run, row in by_run.items()} == {
      'finished': 'finished', 'search/B=1,1 C=8,16': 'stopped early', 'killed': 'stopped',
      'old': 'finished', 'running': 'running'}
  finished = by_run['finished']
  model = models.create_model(tiny_config().model)
  assert finished['design'] == designs.Design.of(tiny_config().model).text
  assert finished['parameters'] == models.trainable_params(model)
  assert finished['mflops'] == pytest.approx(models.flops_per_image(model) / 1e6)
  assert by_run['search/B=1,1 C=8,16']['parameters'] > finished['parameters']
  assert (finished['best_test_accuracy'], finished['final_test_accuracy']) == pytest.approx(
      (0.5, 0.45))
  assert finished['epochs'] == 3
  assert by_run['search/B=1,1 C=8,16']['epochs'] == 2
  assert by_run['killed']['epochs'] == 1 and by_run['killed']['epochs_planned'] == 3
  assert finished['wall_secs'] == pytest.approx(100, abs=1)
  # Both sessions' time, not the 1000 s between them.
  assert by_run['search/B=1,1 C=8,16']['wall_secs'] == pytest.approx(150, abs=1)
  assert by_run['running']['wall_secs'] == pytest.approx(60, abs=5)  # To now.
  assert finished['hardware'] == '8x NVIDIA H200'
  old = by_run['old']  # Steps per epoch from the logged epochs; no hardware or time.
  assert (old['epochs'], old['best_test_accuracy'], old['final_test_accuracy']) == (
      3, pytest.approx(0.42), pytest.approx(0.42))
  assert old['wall_secs'] is None and old['hardware'] is None


def test_the_table_is_printed_and_written_as_csv_markdown_and_a_plot(runs, capsys):
  cli.runs(str(runs), defaults=defaults.get_config())
  printed = capsys.readouterr().out.splitlines()
  rows = runs_table.build(str(runs), defaults=defaults.get_config())
  assert printed[0].split()[:3] == ['run', 'design', 'params']
  assert printed[1].startswith('search/B=1,1 C=8,16  B=1,1 C=8,16 ')
  old = next(line for line in printed if line.startswith('old '))
  assert '42.00%' in old and ' - ' in old  # Unknown wall time and hardware.
  killed = next(line for line in printed if line.startswith('killed '))
  assert ' 1/3 ' in killed and killed.endswith(' stopped')  # Epochs done, of planned.
  assert printed[-1].startswith('5 runs, best test accuracy first: ')
  with open(runs / 'runs.csv') as f:
    written = list(csv.DictReader(f))
  assert [row['run'] for row in written] == [row['run'] for row in rows]
  assert written[1]['host'] == 'node7' and written[1]['status'] == 'finished'
  assert float(written[1]['best_test_accuracy']) == pytest.approx(0.5)
  markdown = (runs / 'runs.md').read_text().splitlines()
  assert markdown[0].startswith('| run | design | params | MFLOPs/img |')
  assert len(markdown) == 2 + len(rows)
  assert markdown[4].startswith('| old | ')
  with open(runs / 'runs.png', 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  assert not list(runs.glob('*.tmp'))


def test_a_folder_without_runs_is_refused(tmp_path):
  with pytest.raises(ConfigError, match='no runs under workdir=') as refused:
    runs_table.build(str(tmp_path))
  assert refused.value.command_line().startswith('no runs under --workdir=')
  with pytest.raises(ConfigError, match='is not a folder'):
    runs_table.build(str(tmp_path / 'missing'))


def test_a_resumed_run_records_each_session(tmp_path, monkeypatch):
  clock = iter([100.0, 160.0, 1000.0, 1030.0, 1050.0])  # Unix times, as the record reads them.
  monkeypatch.setattr(run_record.time, 'time', lambda: next(clock))
  first = run_record.Session(str(tmp_path), first_step=0, num_steps=30, steps_per_epoch=10)
  first.update(10)  # Killed after its first epoch end.
  second = run_record.Session(str(tmp_path), first_step=10, num_steps=30, steps_per_epoch=10)
  second.update(20)
  second.end(20, outcome=run_record.STOPPED_EARLY)
  run_record.Session(str(tmp_path / 'other'), first_step=0, num_steps=1, steps_per_epoch=1,
                     enabled=False)  # Processes other than 0 write nothing.
  record = run_record.read(str(tmp_path))
  assert [(s['first_step'], s['last_step'], s.get('outcome')) for s in record['sessions']] == [
      (0, 10, None), (10, 20, 'stopped early')]
  assert run_record.wall_secs(record, running=False) == 60 + 50
  assert set(run_record.hardware()) <= set(record['sessions'][0])
  assert not (tmp_path / 'other').exists() and not list(tmp_path.glob('*.tmp'))


@pytest.fixture
def unfinished(tmp_path):
  """Runs in the states a table must still show: killed before run.json, killed before its
  first evaluation (its checkpoint never finished), a search's trial pruned at epoch 2 (it logs
  validation accuracy only), and one whose report is all that is left of its metrics."""
  now = time.time()
  run_config.save(tiny_config(), str(tmp_path / 'config only'))
  make_run(tmp_path / 'first epoch', sessions=[
      {'started': 'a', 'started_unix': now - 7, 'last_seen_unix': now - 7, 'last_step': 0}])
  (tmp_path / 'first epoch' / 'checkpoints' / '10.orbax-checkpoint-tmp-5').mkdir(parents=True)
  make_run(tmp_path / 'search' / 'trial_3', split='val', accuracies=[0.2, 0.25], sessions=[
      {'started': 'b', 'started_unix': now - 60, 'last_seen_unix': now - 40, 'last_step': 20,
       'outcome': run_record.PRUNED}])
  make_run(tmp_path / 'search' / 'trial_4', split='val', accuracies=[0.3], sessions=[
      {'started': 'c', 'started_unix': now - 30, 'last_seen_unix': now - 20, 'last_step': 10,
       'outcome': run_record.PRUNED}])
  run_config.save(tiny_config(), str(tmp_path / 'report only'))
  (tmp_path / 'report only' / 'report.json').write_text(json.dumps({'accuracy': 0.33}))
  return tmp_path


def test_runs_in_any_state_get_a_row(unfinished, capsys):
  cli.runs(str(unfinished), defaults=defaults.get_config())
  printed = capsys.readouterr().out.splitlines()
  rows = runs_table.build(str(unfinished), defaults=defaults.get_config())
  assert printed[0].split() == ['run', 'design', 'params', 'MFLOPs/img', 'epochs', 'best', 'acc',
                                'final', 'acc', 'val', 'acc', 'wall', 'hardware', 'status']
  cells = {line.split('  ')[0]: re.split(r' {2,}', line) for line in printed[1:-1]}
  # None has a best test accuracy (the report is one figure): by validation accuracy, then path.
  assert list(cells) == ['search/trial_4', 'search/trial_3', 'config only', 'first epoch',
                         'report only']
  assert cells['report only'][5:] == ['-', '33.00%', '-', '-', '-', '-']
  assert cells['search/trial_3'][4:] == ['2/3', '-', '-', '25.00%', '20s', '8x NVIDIA H200',
                                         'pruned at epoch 2']
  assert cells['search/trial_4'][-1] == 'pruned at epoch 1'
  assert cells['first epoch'][4:] == ['0/3', '-', '-', '-', '0s', '8x NVIDIA H200', 'stopped']
  assert cells['config only'][1:] == ['B=1,1 C=4,8 F=3 K=1 P=global', '1,454', '1.3', '-', '-',
                                      '-', '-', '-', '-', '-']
  assert printed[-1].startswith('5 runs, best test accuracy first: ')
  with open(unfinished / 'runs.csv') as f:
    written = {row['run']: row for row in csv.DictReader(f)}
  assert float(written['search/trial_3']['best_val_accuracy']) == pytest.approx(0.25)
  assert written['first epoch']['newest_checkpoint_step'] == ''
  assert [row['run'] for row in rows] == list(cells)


def test_a_session_can_end_pruned(tmp_path):
  session = run_record.Session(str(tmp_path), first_step=0, num_steps=30, steps_per_epoch=10)
  session.end(20, outcome=run_record.PRUNED)
  (ended,) = run_record.read(str(tmp_path))['sessions']
  assert (ended['last_step'], ended['outcome']) == (20, 'pruned')


@pytest.mark.slow
def test_a_run_killed_before_its_first_evaluation_gets_a_row(tmp_path):
  """Issue 27's case: killed seconds after launch, with config.json, run.json and a checkpoint
  folder written and nothing evaluated; `--mode=runs` shows it, stopped at epoch 0."""
  data = write_cifar_python(tmp_path / 'data', num_train=400, num_test=16)
  workdir = tmp_path / 'runs' / 'killed'
  run = subprocess.Popen(
      [sys.executable, 'launch.py', '--config', 'configs/tiny.py', f'--workdir={workdir}',
       f'--config.data.dir={data}'], cwd=ROOT, env=dict(os.environ, JAX_PLATFORMS='cpu'),
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + 300
  while not (workdir / run_record.FILENAME).exists():
    assert run.poll() is None and time.time() < deadline, 'no run.json'
    time.sleep(0.05)
  run.send_signal(signal.SIGKILL)
  run.wait()
  assert (workdir / 'checkpoints').is_dir() and not list(workdir.glob('report*'))
  table = launch('--mode=runs', f'--workdir={tmp_path / "runs"}')
  assert table.returncode == 0, table.stderr[-3000:]
  header, row, footer = table.stdout.splitlines()
  cells = re.split(r' {2,}', row)
  assert cells[0] == 'killed' and cells[4] == '0/1' and cells[-1] == 'stopped'
  assert cells[5:8] == ['-', '-', '-'] and cells[-2] == '1x cpu'
  assert footer.startswith('1 run, best test accuracy first: ')
