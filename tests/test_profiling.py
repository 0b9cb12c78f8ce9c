"""config.profile_steps: a JAX profiler trace of the chosen steps in the workdir."""

import gzip
import json
import re

import jax
import pytest

from conftest import tiny_config
from resnet_jax import profiling, train, validation
from resnet_jax.errors import ConfigError


def test_chunks_end_at_the_profiled_steps_bounds():
  assert profiling.boundaries((10, 5)) == (10, 15)
  assert profiling.boundaries((10, 0)) == ()


@pytest.mark.parametrize('value', [(1,), (1, 2, 3), (-1, 2), (1, 2.5), (True, 1)])
def test_bad_profile_steps_are_refused(value):
  with pytest.raises(ConfigError, match='config.profile_steps=.*two integers >= 0'):
    validation.check_config(tiny_config(profile_steps=value), num_devices=1)


def test_a_window_past_the_end_of_the_run_is_refused(tmp_path):
  with pytest.raises(ConfigError, match=r'profile_steps=\(8, 3\) traces past .* \(10\)'):
    profiling.StepTrace(str(tmp_path), (8, 3), num_steps=10)


@pytest.mark.slow
def test_a_run_writes_a_trace_of_the_chosen_steps_for_tensorboard_and_perfetto(tmp_path,
                                                                              real_subset):
  config = tiny_config(**{'data.dir': str(real_subset), 'data.train_fraction': 0.05,
                          'num_epochs': 0.25, 'profile_steps': (2, 3)})
  train.train_and_evaluate(config, str(tmp_path))  # 8 steps of 258 images.
  runs = list((tmp_path / 'plugins' / 'profile').iterdir())
  assert len(runs) == 1 and list(runs[0].glob('*.xplane.pb'))  # TensorBoard's profile tab.
  with gzip.open(runs[0] / 'perfetto_trace.json.gz') as f:
    events = json.load(f)['traceEvents']
  names = [event.get('name', '') for event in events]
  assert 'PjitFunction(chunk_fn)' in names  # The compiled steps ran in the trace.
  chunks = [name for name in names if re.fullmatch(r'\$train\.py:\d+ train_chunk', name)]
  if jax.default_backend() == 'cpu':  # One step a chunk: steps 3, 4 and 5, no others.
    assert len(chunks) == 3
