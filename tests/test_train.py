"""End to end on tfds mock data: train, evaluate, checkpoint, resume where it stopped."""

import os

import jax
import numpy as np
import tensorflow_datasets as tfds

from resnet_jax import train
from tests.conftest import tiny_config


def run(config, workdir):
  with tfds.testing.mock_data(num_examples=32):
    return train.train_and_evaluate(config, str(workdir))


def params_of(state):
  return jax.tree.map(np.asarray, (state.params, state.batch_stats))


def test_train_resume_and_evaluate(tmp_path, caplog):
  config = tiny_config(num_epochs=1, **{'optimizer.schedule': 'constant'})
  state = run(config, tmp_path / 'split')
  assert int(state.step) == 4  # 32 mock images / batch 8.
  assert sorted(os.listdir(tmp_path / 'split' / 'checkpoints')) == ['4']
  assert any(name.startswith('events.out.tfevents') for name in os.listdir(tmp_path / 'split'))

  config.num_epochs = 2
  caplog.set_level('INFO')
  resumed = run(config, tmp_path / 'split')
  assert 'Resumed from the checkpoint at step 4' in caplog.text
  assert int(resumed.step) == 8
  assert sorted(os.listdir(tmp_path / 'split' / 'checkpoints')) == ['4', '8']

  # Resuming at the epoch boundary continues the very same run.
  straight = run(config, tmp_path / 'straight')
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
               params_of(straight), params_of(resumed))

  with tfds.testing.mock_data(num_examples=32):
    results = train.evaluate_checkpoint(config, str(tmp_path / 'split'))
  assert results['step'] == 8 and results['num_images'] == 32
  assert 0 <= results['accuracy'] <= 1 and np.isfinite(results['loss'])
  assert set(results['per_class_accuracy']) == {'airplane', 'automobile', 'bird', 'cat', 'deer',
                                                'dog', 'frog', 'horse', 'ship', 'truck'}
