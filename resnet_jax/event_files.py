"""The run's scalars and hyper-parameters in TensorBoard event files, written and read back
without TensorFlow.

clu's writer and TensorBoard's own reader import TensorFlow, which would add seconds to every
launch; the summaries here are TensorBoard's (its scalar and hparams protos and its record
framing), so TensorBoard shows them as it shows clu's, and older runs' files read back alike.
"""

import collections
import concurrent.futures
import itertools
import os
import socket
import struct
import time
from typing import Any, Iterator, Mapping

import numpy as np
from etils import epath
from flax import traverse_util
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
from tensorboard.plugins.hparams import summary_v2 as hparams_summary
from tensorboard.plugins.scalar import summary_v2 as scalar_summary
from tensorboard.summary.writer import record_writer
from tensorboard.util import tensor_util

PATTERN = 'events.out.tfevents.*'
_file_numbers = itertools.count()


class Writer:
  """Appends events to a new event file in `logdir` (if `enabled`: one process of several
  writes).

  Writes happen on a background thread, in order: values that are device arrays are read back
  there, so logging never makes the training loop wait for the device. Each event reaches the
  file as soon as it is written, so a crash loses none that were written; `flush` waits for the
  pending ones and raises what a write raised.
  """

  def __init__(self, logdir: str, *, enabled: bool = True):
    self.enabled = enabled
    if not enabled:
      return
    directory = epath.Path(logdir)
    directory.mkdir(parents=True, exist_ok=True)
    name = (f'events.out.tfevents.{time.time():.0f}.{socket.gethostname()}.{os.getpid()}.'
            f'{next(_file_numbers)}.v2')  # TensorFlow's naming.
    self._file = (directory / name).open('wb')
    self._records = record_writer.RecordWriter(self._file)
    self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix='event_files')
    self._pending = []
    self._submit(self._write, event_pb2.Event(wall_time=time.time(), file_version='brain.Event:2'))

  def write_scalars(self, step: int, scalars: Mapping[str, Any]) -> None:
    """One event at `step` with each scalar (numbers, numpy or JAX scalars) under its name."""
    if not self.enabled:
      return
    self._submit(self._write_scalars, step, dict(scalars), time.time())

  def write_hparams(self, hparams: Mapping[str, Any]) -> None:
    """The run's settings, for TensorBoard's HParams tab: nested dicts flattened to dotted
    names; values other than booleans, numbers and strings written as text."""
    if not self.enabled:
      return
    flat = traverse_util.flatten_dict(dict(hparams), sep='.')
    flat = {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in flat.items()}
    self._submit(self._write, event_pb2.Event(wall_time=time.time(), step=0,
                                              summary=hparams_summary.hparams_pb(flat)))

  def flush(self) -> None:
    if not self.enabled:
      return
    pending, self._pending = self._pending, []
    for write in pending:
      write.result()

  def close(self) -> None:
    if not self.enabled:
      return
    self.flush()
    self._thread.shutdown()
    self._file.close()

  def _submit(self, write, *args) -> None:
    """Runs `write(*args)` on the writer's thread, after the writes submitted before."""
    self._pending.append(self._thread.submit(write, *args))

  def _write_scalars(self, step, scalars, wall_time) -> None:
    event = event_pb2.Event(wall_time=wall_time, step=step)
    for name, value in scalars.items():
      value = np.asarray(value, np.float32)  # A device array is read back here.
      event.summary.value.extend(scalar_summary.scalar_pb(name, value).value)
    self._write(event)

  def _write(self, event) -> None:
    self._records.write(event.SerializeToString())
    self._records.flush()


def read_scalars(workdir: str) -> dict[str, dict[int, float]]:
  """Every scalar logged in `workdir`: tag -> {step: value}; a resumed run's later file wins.

  Reading stops quietly at a truncated last record, which a killed run leaves.
  """
  files = [list(_events(path)) for path in epath.Path(workdir).glob(PATTERN)]
  scalars = collections.defaultdict(dict)
  # In the order they were written: by their first event (TensorFlow's writers round its time
  # to the second), then by their second.
  for events in sorted(files, key=lambda events: [event.wall_time for event in events[:2]]):
    plugins = {}  # TensorFlow's writers give a tag's plugin only with its first value.
    for event in events:
      for value in event.summary.value:
        if value.metadata.plugin_data.plugin_name:
          plugins.setdefault(value.tag, value.metadata.plugin_data.plugin_name)
        if plugins.get(value.tag) == 'scalars':
          scalars[value.tag][event.step] = float(tensor_util.make_ndarray(value.tensor))
  return dict(scalars)


def _events(path) -> Iterator[event_pb2.Event]:
  """The events of an event file (TFRecord framing: length, its CRC, data, its CRC), up to the
  first record that is cut short or fails its checksum."""
  data, position = epath.Path(path).read_bytes(), 0
  while position + 12 <= len(data):
    (length,) = struct.unpack_from('<Q', data, position)
    start, end = position + 12, position + 12 + length
    if end + 4 > len(data) or struct.unpack_from('<I', data, end)[0] != masked_crc32c(
        data[start:end]):
      return
    yield event_pb2.Event.FromString(data[start:end])
    position = end + 4
