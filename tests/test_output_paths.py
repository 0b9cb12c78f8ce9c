"""Where a mode writes is checked before any work: a path that cannot be written is one line
naming its flag, exit status 2, for every mode that writes; a path that can creates nothing."""

import concurrent.futures
import os

import pytest

from resnet_jax import output_paths
from resnet_jax.errors import ConfigError
from tests.helpers import launch

UNWRITABLE = '/proc/nope'  # /proc takes no new files, even from root.
CANNOT = 'cannot be written: no file can be created in /proc (No such file or directory); '


def listing(folder):
  return sorted(os.path.relpath(os.path.join(root, name), folder)
                for root, dirs, files in os.walk(folder) for name in dirs + files)


def test_a_path_that_can_be_written_passes_and_nothing_is_created(tmp_path):
  (tmp_path / 'run').mkdir()
  before = listing(tmp_path)
  output_paths.check_path('--workdir', str(tmp_path / 'run'), folder=True)  # Exists.
  output_paths.check_path('--workdir', str(tmp_path / 'a' / 'b'), folder=True)  # Can be made.
  output_paths.check_path('--output', str(tmp_path / 'c' / 'p.csv'), folder=False)
  output_paths.check('', workdir=UNWRITABLE, output=UNWRITABLE)  # A mode that writes nothing.
  assert listing(tmp_path) == before


@pytest.mark.parametrize('path,folder,message', [
    (UNWRITABLE, True, f'--output={UNWRITABLE} {CANNOT}choose a path you can write to'),
    (f'{UNWRITABLE}.csv', False, f'--output={UNWRITABLE}.csv {CANNOT}choose a path you can write '
     'to'),
    ('{tmp}/file/run', True, '--output={tmp}/file/run cannot be written: {tmp}/file is a file, '
     'not a folder'),
    ('{tmp}', False, '--output={tmp} is a folder; give the path of the file to write'),
])
def test_a_path_that_cannot_be_written_is_refused_naming_it(tmp_path, path, folder, message):
  (tmp_path / 'file').write_text('')
  with pytest.raises(ConfigError) as refused:
    output_paths.check_path('--output', path.format(tmp=tmp_path), folder=folder)
  assert str(refused.value) == message.format(tmp=tmp_path)
  assert listing(tmp_path) == ['file']


MODES = {  # Each mode that writes, and the flag refused; the workdir, if any, is made up.
    'train': (['--config', 'configs/tiny.py', f'--workdir={UNWRITABLE}'], 'workdir'),
    'eval': (['--config', 'configs/tiny.py', '--mode=eval', f'--workdir={UNWRITABLE}'],
             'workdir'),
    'plot': (['--mode=plot', f'--workdir={UNWRITABLE}'], 'workdir'),
    'runs': (['--mode=runs', f'--workdir={UNWRITABLE}'], 'workdir'),
    'search': (['--config', 'configs/search.py', '--mode=search', f'--workdir={UNWRITABLE}'],
               'workdir'),
    'benchmark': (['--config', 'configs/tiny.py', '--mode=benchmark', f'--workdir={UNWRITABLE}'],
                  'workdir'),
    'predict': (['--mode=predict', '--workdir={tmp}/run', '--inputs={tmp}/images.npy',
                 f'--output={UNWRITABLE}.csv'], 'output'),
    'predict to the workdir': (['--mode=predict', f'--workdir={UNWRITABLE}',
                                '--inputs={tmp}/images.npy'], 'workdir'),
    'export': (['--mode=export', '--workdir={tmp}/run', f'--output={UNWRITABLE}'], 'output'),
    'export to the workdir': (['--mode=export', f'--workdir={UNWRITABLE}'], 'workdir'),
}


@pytest.mark.slow
def test_every_mode_that_writes_refuses_an_unwritable_path_in_one_line(tmp_path):
  def attempt(args):
    return launch(*[arg.format(tmp=tmp_path) for arg in args])

  with concurrent.futures.ThreadPoolExecutor(2) as pool:
    results = dict(zip(MODES, pool.map(attempt, [args for args, _ in MODES.values()])))
  for name, proc in results.items():
    flag = MODES[name][1]
    path = next(arg.split('=', 1)[1] for arg in MODES[name][0] if arg.startswith(f'--{flag}='))
    instead = ', or give --output' if name.endswith('to the workdir') else ''
    assert proc.returncode == 2 and proc.stdout == '', (name, proc.stderr[-2000:])
    assert proc.stderr.splitlines() == [
        f'error: --{flag}={path} {CANNOT}choose a path you can write to{instead}'], name
  assert listing(tmp_path) == []  # Nothing made, not even the workdir.
