"""Files a run leaves behind, written whole or not at all: a killed process, or a reader at the
wrong moment, never sees half a config, record, report, picture, CSV or export."""

import os


def write(path: str, data: str | bytes) -> str:
  """Writes `data` to `path` through a temporary file renamed over it; returns `path`."""
  with open(path + '.tmp', 'wb' if isinstance(data, bytes) else 'w') as f:
    f.write(data)
  os.replace(path + '.tmp', path)
  return path
