"""The reports' pictures and the eval summary from a small synthetic summary (what a real run
leaves is in test_trained.py)."""

import json
import os
import re

import numpy as np

from resnet_jax import cifar10, report_pictures, reports
from tests.helpers import PNG

def synthetic_predictions(num_images=60, seed=0):
  """Images, labels and probabilities that are right about two times in three."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 10, num_images)
  logits = rng.normal(size=(num_images, 10))
  logits[np.arange(num_images), labels] += 1.5
  probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
  images = rng.integers(0, 256, (num_images, 32, 32, 3), dtype=np.uint8)
  return images, labels, probabilities


def summary_of(labels, probabilities):
  confusion = np.zeros((10, 10), int)
  np.add.at(confusion, (labels, probabilities.argmax(1)), 1)
  per_class = np.diag(confusion) / np.maximum(confusion.sum(1), 1)
  return {'step': 7, 'selected_by': 'the newest checkpoint',
          'loss': 1.25, 'accuracy': float(np.trace(confusion) / len(labels)),
          'per_class_accuracy': dict(zip(cifar10.CLASS_NAMES, per_class.tolist())),
          'num_images': len(labels), 'confusion_matrix': confusion.tolist()}


def test_the_most_confident_mistakes_are_the_wrong_images_of_highest_probability():
  _, labels, probabilities = synthetic_predictions()
  chosen = report_pictures.confident_mistakes(labels, probabilities, count=5)
  predicted = probabilities.argmax(1)
  wrong = [i for i in range(len(labels)) if predicted[i] != labels[i]]
  expected = sorted(wrong, key=lambda i: -probabilities[i].max())[:5]
  assert chosen.tolist() == expected
  assert report_pictures.confident_mistakes(labels, np.eye(10)[labels], count=5).size == 0


def test_report_md_embeds_the_pictures_written_next_to_it(tmp_path):
  images, labels, probabilities = synthetic_predictions()
  summary = summary_of(labels, probabilities)
  paths = reports.write(str(tmp_path), summary, name='report_ema', title='EMA',
                        predictions=(images, labels, probabilities))
  assert [os.path.basename(p) for p in paths] == [
      'report_ema.json', 'report_ema.md', 'report_ema_confusion.png', 'report_ema_mistakes.png']
  assert json.loads((tmp_path / 'report_ema.json').read_text()) == summary
  links = re.findall(r'!\[[^]]*\]\(([^)]+)\)', (tmp_path / 'report_ema.md').read_text())
  assert links == ['report_ema_confusion.png', 'report_ema_mistakes.png']
  for link in links:
    assert (tmp_path / link).read_bytes()[:8] == PNG
  assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(p) for p in paths)  # No .tmp.


def test_the_confusion_heatmap_shows_row_percentages_and_class_names():
  confusion = np.diag(np.arange(1, 11)) + 1  # Row i: i + 2 of its i + 11 images right.
  figure = report_pictures.confusion_figure(confusion, 'title')
  axes = figure.axes[0]
  texts = [t.get_text() for t in axes.texts]
  assert len(texts) == 100
  assert texts[0] == f'{100 * 2 / 11:.0f}' and texts[1] == f'{100 / 11:.0f}'
  assert [t.get_text() for t in axes.get_xticklabels()] == list(cifar10.CLASS_NAMES)
  assert axes.get_yticklabels()[9].get_text() == 'truck (20)'


def test_eval_summary_is_short_and_names_the_report_files(tmp_path):
  images, labels, probabilities = synthetic_predictions()
  summary = summary_of(labels, probabilities)
  reports.write(str(tmp_path), summary, predictions=(images, labels, probabilities))
  text = reports.console_summary({'test': summary}, str(tmp_path))
  lines = text.splitlines()
  assert len(lines) <= 10
  assert lines[0] == (f'Test accuracy at step 7: {summary["accuracy"]:.2%} '
                      f'({np.trace(summary["confusion_matrix"])} of 60 images), loss 1.2500.')
  for name, accuracy in summary['per_class_accuracy'].items():
    count = int((labels == cifar10.CLASS_NAMES.index(name)).sum())
    assert re.search(rf'\b{name} +{count} +{accuracy:.2%}', text), name
  assert lines[-1] == (f'Reports in {tmp_path}: report.md, report.json, report_confusion.png, '
                       'report_mistakes.png')
  assert 'EMA' not in text
