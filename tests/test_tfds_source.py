"""The default source, tfds' cifar10, as a fresh environment has it: its download path imports
and reaches the network; offline, the run fails in seconds with a clear message, leaving nothing."""

import socket
import tempfile
import time

import pytest
import requests
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download import downloader

from resnet_jax import data_sources, defaults
from resnet_jax.errors import ConfigError


@pytest.fixture
def offline(monkeypatch, tmp_path):
  """No host name resolves, as on a machine without network; tfds' data dir does not exist.

  Yields (the folder of tfds' data dir, the temp dir that `tempfile` hands out).
  """
  def refuse(*args, **kwargs):
    raise socket.gaierror(socket.EAI_NONAME, 'Name or service not known (blocked by the test)')
  monkeypatch.setattr(socket, 'getaddrinfo', refuse)
  # tfds reads TFDS_DATA_DIR once, at import, into this constant.
  monkeypatch.setattr(tfds.core.constants, 'DATA_DIR',
                      str(tmp_path / 'data' / 'tensorflow_datasets'))
  (tmp_path / 'data').mkdir()
  (tmp_path / 'temp').mkdir()
  monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path / 'temp'))
  return tmp_path / 'data', tmp_path / 'temp'


def test_tfds_download_gets_as_far_as_the_network(offline, monkeypatch):
  monkeypatch.setattr(downloader, 'MAX_RETRIES', 0)  # Fail at the first refusal, not minutes on.
  builder = tfds.builder('cifar10')  # Raised ModuleNotFoundError when a dependency was missing.
  with pytest.raises(requests.exceptions.ConnectionError, match='cs.toronto.edu'):
    builder.download_and_prepare()


def test_offline_without_a_local_copy_fails_fast_and_leaves_nothing(offline):
  start = time.monotonic()
  with pytest.raises(ConfigError, match=r'could not download CIFAR-10 .* config\.data\.dir') as e:
    data_sources.load_split(defaults.get_config().data, 'test')
  assert 'point --config.data.dir at a local copy' in e.value.command_line()
  assert time.monotonic() - start < 30
  data, temp = offline
  assert list(data.iterdir()) == [] and list(temp.iterdir()) == []  # No /tmp/tmp*tfds either.
