"""`<workdir>/run.json`: what a table of runs needs that checkpoints and metrics do not hold.

One entry per training session (a resumed run has several): when it started, its last sign of
life (each epoch end) and how it ended, the hardware it ran on, its first and last step; plus
the run's steps per epoch and step count. A killed session never writes its end: its time
counts to its last epoch end, and whether a process still trains the run is told by the
workdir's lock (`workdir_lock.is_held`).
"""

import datetime
import json
import os
import socket
import time
from typing import Any

import jax

from resnet_jax import atomic_files

FILENAME = 'run.json'
# How a session ended, when it ended by itself (else it has no outcome).
FINISHED, STOPPED_EARLY = 'finished', 'stopped early'
PRUNED = 'pruned'


def read(workdir: str) -> dict[str, Any] | None:
  """The record in `workdir`, or None for a run that started before records existed."""
  path = os.path.join(workdir, FILENAME)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def hardware() -> dict[str, Any]:
  """What this process trains on."""
  return {'platform': jax.default_backend(), 'device_kind': jax.devices()[0].device_kind,
          'device_count': jax.device_count(), 'process_count': jax.process_count(),
          'host': socket.gethostname()}


def _now() -> dict[str, Any]:
  now = time.time()
  return {'time': datetime.datetime.fromtimestamp(now, datetime.timezone.utc).isoformat(
      timespec='seconds'), 'unix': now}


class Session:
  """This session of the run in `workdir`, kept in its record as it goes (only where `enabled`:
  on process 0)."""

  def __init__(self, workdir: str, *, first_step: int, num_steps: int, steps_per_epoch: int,
               enabled: bool = True):
    self.path, self.enabled = os.path.join(workdir, FILENAME), enabled
    if not enabled:
      return
    self.record = read(workdir) or {'sessions': []}
    self.record.update(num_steps=num_steps, steps_per_epoch=steps_per_epoch)
    now = _now()
    self.record['sessions'].append(
        {'started': now['time'], 'started_unix': now['unix'], 'first_step': first_step,
         'last_step': first_step, 'last_seen_unix': now['unix']} | hardware())
    self._write()

  def update(self, step: int) -> None:
    """Training has reached `step`: the session's last sign of life."""
    self._set(last_step=step, last_seen_unix=time.time())

  def end(self, step: int, *, outcome: str = FINISHED) -> None:
    """The session trained to `step` and ended by itself: finished, stopped early, or pruned (a
    search's pruner stopped the trial)."""
    now = _now()
    self._set(last_step=step, last_seen_unix=now['unix'], ended=now['time'], outcome=outcome)

  def _set(self, **fields) -> None:
    if self.enabled:
      self.record['sessions'][-1].update(fields)
      self._write()

  def _write(self) -> None:
    atomic_files.write(self.path, json.dumps(self.record, indent=2) + '\n')


def wall_secs(record: dict[str, Any], *, running: bool) -> float:
  """Seconds trained over all sessions: each to its last sign of life, the one still running
  (`running`: the newest) to now."""
  sessions = record['sessions']
  ends = [s['last_seen_unix'] for s in sessions[:-1]] + [
      time.time() if running else sessions[-1]['last_seen_unix']]
  return sum(max(0.0, end - s['started_unix']) for s, end in zip(sessions, ends))
