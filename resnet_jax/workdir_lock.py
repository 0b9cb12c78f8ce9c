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
      raise ConfigError(f'--workdir={workdir} is in use by a running job ({owner}); wait for it '
                        'to finish, or choose another --workdir') from None
    f.seek(0)
    f.truncate()
    f.write(f'pid {os.getpid()} on {socket.gethostname()}\n')
    f.flush()
    yield
