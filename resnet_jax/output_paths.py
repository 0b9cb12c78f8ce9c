"""Whether what a mode will write can be written, checked by the command line before any work
(before JAX starts): a path that cannot is refused in one line naming its flag, instead of a
traceback after the work is done."""

import os
import tempfile

from resnet_jax.errors import ConfigError

# What each kind of mode writes (`cli.Mode.writes`): its --workdir, or its --output, a file or
# a folder, which by default is in the workdir.
WORKDIR, OUTPUT_FILE, OUTPUT_FOLDER = 'workdir', 'output file', 'output folder'


def check(writes: str, *, workdir: str | None, output: str | None) -> None:
  """Refuses (ConfigError) the path a mode `writes` to ('' for nothing), if it cannot be
  written."""
  if writes in (OUTPUT_FILE, OUTPUT_FOLDER) and output:
    check_path('--output', output, folder=writes == OUTPUT_FOLDER)
  elif writes and workdir:  # The workdir, or the default output inside it.
    check_path('--workdir', workdir, folder=True,
               instead='' if writes == WORKDIR else ', or give --output')


def check_path(flag: str, path: str, *, folder: bool, instead: str = '') -> None:
  """Refuses `path` (ConfigError naming `flag`, suggesting `instead` too) unless it is a folder
  (`folder`) or file that can be written: it exists, or its folder does or can be created, and a
  file can be made there. Tries that with a temporary file in the nearest folder that exists;
  creates nothing else."""
  path = os.path.abspath(os.path.expanduser(path))
  if not folder and os.path.isdir(path):
    raise ConfigError(f'{flag}={path} is a folder; give the path of the file to write')
  existing = path if folder else os.path.dirname(path)
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing):
    raise ConfigError(f'{flag}={path} cannot be written: {existing} is a file, not a folder'
                      f'{instead}')
  try:
    with tempfile.TemporaryFile(dir=existing):
      pass
  except OSError as e:
    raise ConfigError(f'{flag}={path} cannot be written: no file can be created in {existing} '
                      f'({e.strerror}); choose a path you can write to{instead}') from None
