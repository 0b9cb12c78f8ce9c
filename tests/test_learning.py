"""A small ResNet learns real CIFAR-10 images (the exact subset in ../shared/data), from
device-resident data and from the host pipeline alike."""

import json

import pytest

from resnet_jax import train
from tests.helpers import tiny_config

pytestmark = pytest.mark.slow  # Every test here starts Python subprocesses or trains.


@pytest.mark.parametrize('pipeline', ['device', 'host'])
def test_small_resnet_learns_real_images(tmp_path, real_subset, pipeline):
  """One epoch, 161 steps of 32 images: 34.8% (device) and 36.4% (host) on this CPU, with the
  tests' XLA flags (`conftest.TEST_XLA_FLAGS`); chance is 10%."""
  config = tiny_config(**{
      'data.dir': str(real_subset), 'data.pipeline': pipeline, 'model.blocks': (1, 1, 1),
      'model.channels': (8, 16, 32), 'batch_size': 32, 'eval_batch_size': 256,
      'num_epochs': 1, 'log_every_steps': 50, 'optimizer.learning_rate': 0.05,
      'augment.crop_padding': 0, 'augment.flip': False})
  state = train.train_and_evaluate(config, str(tmp_path))
  results = json.loads((tmp_path / 'report.json').read_text())  # The final model's test report.
  assert results['step'] == int(state.step) == 5169 // 32
  assert results['num_images'] == 1017
  assert results['accuracy'] > 0.30, results  # Chance is 0.10.
