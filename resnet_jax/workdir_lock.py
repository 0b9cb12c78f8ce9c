"""One run per workdir: an advisory lock the OS releases when its process dies, however."""

import contextlib
import fcntl
import os
import socket

from resnet_jax.errors import ConfigError


@contextlib.contextmanager
def exclusive(workdir: str):
  """Holds `workdir/lock` for the duration; refuses if a live process holds it."""
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, 'lock')
  with open(path, 'a+') as f:
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      f.seek(0)
      owner = f.read().strip() or 'another process'
      raise ConfigError('workdir=%s is in use by a running job (%s); wait for it to finish, or '
                        'choose another workdir', workdir, owner, arguments=('workdir',)) from None
    f.seek(0)
    f.truncate()
    f.write(f'pid {os.getpid()} on {socket.gethostname()}\n')
    f.flush()
    yield


def is_held(workdir: str) -> bool:
  """Whether a live process holds `workdir/lock` (a run trains there now). Never blocks; if no
  one holds it, it is taken shared for an instant, which only a run starting in that instant
  could notice (it would refuse to start)."""
  path = os.path.join(workdir, 'lock')
  if not os.path.exists(path):
    return False
  with open(path) as f:
    try:
      fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
      return True
    fcntl.flock(f, fcntl.LOCK_UN)
    return False
