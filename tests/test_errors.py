"""The library's errors name what the caller gave in Python's names (`workdir`,
`config.data.dir`); the command line says the same with those names as its flags (`--workdir`),
and nothing else changed: not other words, nor any value (a path, another library's words)."""

import fcntl

import pytest

from resnet_jax import parallel, plots, runs_table, workdir_lock
from resnet_jax.errors import ConfigError, NonFiniteLoss
from tests.helpers import launch


def test_named_arguments_become_flags_where_they_stand_as_words():
  error = ConfigError(
      'workdir=%s is in use (%s); choose another workdir, or point config.data.dir at it (not '
      '<workdir>/trial-NNNN, workdir_x, runs/workdir, myconfig.data.dir, config.data.dirs, the '
      'mode or --workdir)', 'runs/workdir_x', 'a workdir, workdir', arguments=(
          'workdir', 'config.data.dir'))
  assert str(error) == (
      'workdir=runs/workdir_x is in use (a workdir, workdir); choose another workdir, or point '
      'config.data.dir at it (not <workdir>/trial-NNNN, workdir_x, runs/workdir, '
      'myconfig.data.dir, config.data.dirs, the mode or --workdir)')
  assert error.command_line() == (
      '--workdir=runs/workdir_x is in use (a workdir, workdir); choose another --workdir, or '
      'point --config.data.dir at it (not <workdir>/trial-NNNN, workdir_x, runs/workdir, '
      'myconfig.data.dir, config.data.dirs, the mode or --workdir)')


def test_an_error_without_arguments_reads_the_same_on_the_command_line():
  error = NonFiniteLoss('the loss of workdir is 100% NaN')
  assert error.command_line() == str(error) == 'the loss of workdir is 100% NaN'


def test_a_workdir_in_use_is_refused_in_the_callers_names(tmp_path):
  with open(tmp_path / 'lock', 'w') as held:  # A second open file: flock refuses it as another.
    held.write('pid 1 on elsewhere\n')
    held.flush()
    fcntl.flock(held, fcntl.LOCK_EX)
    with pytest.raises(ConfigError) as refused:
      with workdir_lock.exclusive(str(tmp_path)):
        pass
  assert str(refused.value) == (f'workdir={tmp_path} is in use by a running job (pid 1 on '
                                'elsewhere); wait for it to finish, or choose another workdir')
  assert refused.value.command_line() == (
      f'--workdir={tmp_path} is in use by a running job (pid 1 on elsewhere); wait for it to '
      'finish, or choose another --workdir')


def test_the_words_of_jax_in_a_message_stay_as_jax_wrote_them(monkeypatch):
  reason = 'process_id and num_processes must be nonnegative, with process_id < num_processes'

  def refuse(*_):
    raise ValueError(f'{reason}. Got process_id=5, num_processes=2.')  # As JAX says it.

  monkeypatch.setattr(parallel.jax.distributed, 'initialize', refuse)
  with pytest.raises(ConfigError) as refused:
    parallel.initialize('localhost:1234', 2, 5)
  said = (f'cannot start the multi-process runtime ({reason}. Got process_id=5, num_processes=2); '
          'give {}coordinator_address=HOST:PORT (of process 0), {}num_processes and {}process_id, '
          'or run under Cloud TPU, SLURM or Open MPI, whose settings JAX detects')
  assert str(refused.value) == said.format('', '', '')
  assert refused.value.command_line() == said.format('--', '--', '--')


@pytest.mark.slow
def test_the_command_line_says_the_same_in_flags(tmp_path):
  said = {  # mode: (the library's call, its message, with {} where the command line puts '--').
      'runs': (runs_table.build, f'no runs under {{}}workdir={tmp_path} (a run is a folder with '
               'config.json); give the folder your runs are in'),
      'plot': (plots.write_curves, f'no training metrics (TensorBoard event files) in {tmp_path}; '
               'point {}workdir at a run of {}mode=train')}
  for mode, (call, message) in said.items():
    with pytest.raises(ConfigError) as refused:
      call(str(tmp_path))
    assert str(refused.value) == message.format('', '')
    proc = launch('--workdir', str(tmp_path), f'--mode={mode}')
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        'error: ' + message.format('--', '--')]
