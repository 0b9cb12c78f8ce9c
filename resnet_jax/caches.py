"""What a repeat run need not redo: XLA compilations and decoded image folders, kept on disk.

Both live under $XDG_CACHE_HOME/resnet_jax (default ~/.cache/resnet_jax); deleting it is safe.
"""

import hashlib
import os
import uuid

import jax
import numpy as np


def directory(*parts: str) -> str:
  root = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
  return os.path.join(root, 'resnet_jax', *parts)


def use_compilation_cache() -> None:
  """JAX's persistent compilation cache in `directory('jax')`, unless the user chose one
  (JAX_COMPILATION_CACHE_DIR). A repeat run then loads its steps instead of compiling them."""
  if not jax.config.jax_compilation_cache_dir:
    jax.config.update('jax_compilation_cache_dir', directory('jax'))


def decoded(folder: str, decode):
  """`decode()`'s arrays for the image folder `folder`, decoded again only if it changed.

  The result is stored as .npz, keyed by the folder's path and each file's name, size and
  modification time; a changed, added or removed file makes a new key (and the old entry goes).
  """
  folder = os.path.abspath(folder)
  listing = hashlib.sha256()
  for parent, subdirs, files in os.walk(folder):
    subdirs.sort()
    for name in sorted(files):
      stat = os.stat(os.path.join(parent, name))
      listing.update(f'{os.path.relpath(parent, folder)}/{name} {stat.st_size} '
                     f'{stat.st_mtime_ns}\n'.encode())
  prefix = hashlib.sha256(folder.encode()).hexdigest()[:16]
  cache = directory('decoded')
  path = os.path.join(cache, f'{prefix}-{listing.hexdigest()[:16]}.npz')
  try:
    with np.load(path) as stored:
      return tuple(stored[f'arr_{i}'] for i in range(len(stored.files)))
  except Exception:  # Missing, or unreadable: decode afresh.
    pass
  arrays = decode()
  os.makedirs(cache, exist_ok=True)
  for name in os.listdir(cache):  # Older entries of this folder.
    if name.startswith(prefix):
      _remove(os.path.join(cache, name))
  partial = f'{path}.{uuid.uuid4().hex}.tmp.npz'  # Concurrent writers never see half a file.
  np.savez(partial, *arrays)
  os.replace(partial, path)
  return arrays


def _remove(path: str) -> None:
  try:
    os.remove(path)
  except FileNotFoundError:
    pass
