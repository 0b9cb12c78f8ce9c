"""Evaluation reports against an independent count, flip TTA, and curves from logged metrics."""

import functools
import json
import os
import pickle

import jax
import numpy as np
import optax
import pytest
from clu import metric_writers

from resnet_jax import cifar10, event_files, models, parallel, plots, steps, train
from tests.helpers import random_variables, tiny_config


def state_for(model, mesh, seed=0):
  variables = random_variables(model, seed)
  return parallel.replicate(steps.TrainState.create(
      apply_fn=model.apply, params=variables['params'], batch_stats=variables['batch_stats'],
      tx=optax.identity()), mesh)


def write_python_batches(root, images, labels):
  """A cifar-10-batches-py folder whose test split is (images, labels); train is a copy."""
  root.mkdir()
  data = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
  for name in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
    with open(root / name, 'wb') as f:
      pickle.dump({b'data': data, b'labels': labels.tolist()}, f)


def test_report_files_agree_with_an_independent_count(tmp_path):
  rng = np.random.default_rng(0)  # 37 images of random colours: the last eval batch is padded.
  colours = rng.integers(0, 256, (37, 1, 1, 3))
  images = np.clip(colours + rng.integers(-20, 20, (37, 32, 32, 3)), 0, 255).astype(np.uint8)
  labels = rng.integers(0, 10, 37)
  write_python_batches(tmp_path / 'data', images, labels)
  mesh = parallel.make_mesh()
  trainer = train.Trainer(tiny_config(**{'data.dir': str(tmp_path / 'data')}), mesh,
                          with_train_data=False)
  state = state_for(trainer.steps.model, mesh, seed=3)
  summary = trainer.write_reports(state, str(tmp_path), 'the newest checkpoint')['test']

  normalized = (images / 255.0 - np.array(cifar10.MEAN)) / np.array(cifar10.STD)
  logits = np.asarray(jax.jit(state.apply_fn)(
      {'params': state.params, 'batch_stats': state.batch_stats}, normalized.astype(np.float32)),
      np.float64)
  predictions = logits.argmax(-1)
  confusion = np.zeros((10, 10), int)
  np.add.at(confusion, (labels, predictions), 1)
  assert len(set(predictions)) > 1  # A matrix worth checking.
  log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))

  written = json.loads((tmp_path / 'report.json').read_text())
  assert written == summary
  assert written['confusion_matrix'] == confusion.tolist()
  assert written['num_images'] == 37
  assert written['accuracy'] == pytest.approx(np.mean(predictions == labels))
  np.testing.assert_allclose(written['loss'], -log_probs[np.arange(37), labels].mean(), rtol=1e-5)
  markdown = (tmp_path / 'report.md').read_text()
  for i, name in enumerate(cifar10.CLASS_NAMES):
    total, correct = int((labels == i).sum()), int(confusion[i, i])
    assert written['per_class_accuracy'][name] == pytest.approx(correct / total if total else 0)
    assert f'| {name} | {total} | {correct} |' in markdown
    assert f'| {name} | ' + ' | '.join(map(str, confusion[i])) + ' |' in markdown
  assert f'({np.trace(confusion)} of 37 images)' in markdown
  assert written['selected_by'] == 'the newest checkpoint'
  assert f'Weights of step {int(state.step)}: the newest checkpoint.' in markdown


def test_flip_tta_changes_nothing_for_flip_symmetric_images():
  mesh = parallel.make_mesh(jax.devices()[:1])
  model = models.create_model(tiny_config().model)
  state = state_for(model, mesh)
  rng = np.random.default_rng(0)
  images = rng.normal(size=(8, 32, 32, 3)).astype(np.float32)
  symmetric = (images + images[:, :, ::-1]) / 2
  labels = rng.integers(0, 10, 8).astype(np.int32)
  results = {}
  for tta in (False, True):
    step = jax.jit(functools.partial(steps.eval_step, tta_flip=tta))
    for name, x in (('symmetric', symmetric), ('plain', images)):
      batch = parallel.shard_batch({'image': x, 'label': labels, 'mask': np.ones(8, np.float32)},
                                   mesh)
      results[name, tta] = jax.tree.map(np.asarray, step(state, batch)[0].compute())
  for key in ('loss', 'accuracy', 'confusion'):
    np.testing.assert_allclose(results['symmetric', True][key], results['symmetric', False][key],
                               rtol=1e-5)
  assert not np.isclose(results['plain', True]['loss'], results['plain', False]['loss'])


def test_curves_are_read_back_from_the_logged_metrics(tmp_path):
  for session, (first, last) in enumerate(((1, 6), (5, 8))):  # Resumed at step 4, redoing 5-6.
    writer = metric_writers.create_default_writer(str(tmp_path), asynchronous=False)
    for step in range(first, last + 1):
      writer.write_scalars(step, {'train_loss': 10 * session + step, 'train_accuracy': 0.1,
                                  'train_learning_rate': 0.1 / step})
      if step % 2 == 0:
        writer.write_scalars(step, {'epoch': step // 2, 'test_loss': 1.0 / step,
                                    'test_accuracy': 0.05 * step})
    writer.close()
  scalars = event_files.read_scalars(str(tmp_path))
  assert scalars['train_loss'] == {1: 1, 2: 2, 3: 3, 4: 4, 5: 15, 6: 16, 7: 17, 8: 18}
  assert scalars['test_accuracy'] == pytest.approx({2: 0.1, 4: 0.2, 6: 0.3, 8: 0.4})
  paths = plots.write_curves(str(tmp_path))
  assert [os.path.basename(p) for p in paths] == [
      'curves_loss.png', 'curves_accuracy.png', 'curves_learning_rate.png']
  for path in paths:
    with open(path, 'rb') as f:
      assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert os.path.getsize(path) > 5000


def test_translated_tta_views_change_nothing_for_constant_images():
  """Constant images look the same mirrored and translated (reflected borders): TTA over flip
  and shift scores them as the plain model does; other images it scores differently."""
  mesh = parallel.make_mesh(jax.devices()[:1])
  state = state_for(models.create_model(tiny_config().model), mesh)
  rng = np.random.default_rng(0)
  images = rng.normal(size=(8, 32, 32, 3)).astype(np.float32)
  constant = np.broadcast_to(images[:, :1, :1], images.shape).copy()
  labels = rng.integers(0, 10, 8).astype(np.int32)
  results = {}
  for tta in ((False, 0), (True, 2)):
    step = jax.jit(functools.partial(steps.eval_step, tta_flip=tta[0], tta_shift=tta[1]))
    for name, x in (('constant', constant), ('plain', images)):
      batch = parallel.shard_batch({'image': x, 'label': labels, 'mask': np.ones(8, np.float32)},
                                   mesh)
      results[name, tta] = jax.tree.map(np.asarray, step(state, batch)[0].compute())
  for key in ('loss', 'accuracy', 'confusion'):
    np.testing.assert_allclose(results['constant', (True, 2)][key],
                               results['constant', (False, 0)][key], rtol=1e-5)
  assert not np.isclose(results['plain', (True, 2)]['loss'], results['plain', (False, 0)]['loss'])


def test_curves_of_a_killed_run_read_up_to_its_truncated_last_record(tmp_path):
  writer = metric_writers.create_default_writer(str(tmp_path), asynchronous=False)
  writer.write_hparams({'batch_size': 8})  # Not a scalar: skipped.
  for step in (1, 2, 3):
    writer.write_scalars(step, {'train_loss': float(step)})
  writer.close()
  (path,) = tmp_path.glob('events.out.tfevents.*')
  os.truncate(path, os.path.getsize(path) - 5)  # The last record, cut mid-write.
  assert event_files.read_scalars(str(tmp_path)) == {'train_loss': {1: 1.0, 2: 2.0}}
