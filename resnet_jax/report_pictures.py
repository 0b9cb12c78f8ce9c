"""Pictures of a test report: the confusion matrix as a heatmap, and the test images the model
gets wrong with the most confidence. Drawn with matplotlib's Figure API (no pyplot, no GUI)."""

import io

import numpy as np
from matplotlib.figure import Figure

from resnet_jax import atomic_files
from resnet_jax.cifar10 import CLASS_NAMES


def save(figure: Figure, path: str) -> str:
  """Writes `figure` as a PNG at `path` atomically (a reader never sees half a file)."""
  png = io.BytesIO()
  figure.savefig(png, format='png', dpi=100, bbox_inches='tight')
  return atomic_files.write(path, png.getvalue())


def confusion_figure(confusion, title: str, class_names=CLASS_NAMES) -> Figure:
  """Rows (true classes) normalized to 1: each cell shows the percentage of the true class
  predicted as the column's class; the row labels give each class's number of images."""
  confusion = np.asarray(confusion, np.float64)
  totals = confusion.sum(axis=1)
  rates = confusion / np.maximum(totals, 1)[:, None]
  n = len(class_names)
  figure = Figure(figsize=(1.0 + 0.75 * n, 0.75 * n))
  axes = figure.add_subplot()
  image = axes.imshow(rates, cmap='Blues', vmin=0, vmax=1)
  for i in range(n):
    for j in range(n):
      axes.text(j, i, f'{100 * rates[i, j]:.0f}', ha='center', va='center', fontsize=9,
                color='white' if rates[i, j] > 0.5 else 'black')
  axes.set_xticks(range(n), class_names, rotation=45, ha='right')
  axes.set_yticks(range(n), [f'{name} ({total:.0f})' for name, total in zip(class_names, totals)])
  axes.set(xlabel='predicted class', ylabel='true class (images)', title=title)
  figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label='fraction of the true class')
  return figure


def confident_mistakes(labels, probabilities, count: int = 32) -> np.ndarray:
  """Indices of the `count` wrongly classified images with the highest predicted probability,
  most confident first."""
  predicted = probabilities.argmax(axis=1)
  wrong = np.flatnonzero(predicted != labels)
  confidence = probabilities[wrong, predicted[wrong]]
  return wrong[np.argsort(-confidence, kind='stable')[:count]]


def mistakes_figure(images, labels, probabilities, title: str, *, rows: int = 4,
                    columns: int = 8, class_names=CLASS_NAMES) -> Figure:
  """A grid of the most confident mistakes: each uint8 image under its true class, the
  predicted class and the probability given to it.

  The images are tiled into one mosaic drawn on one axes: 32 axes of their own would take 2 s
  to draw, and every run's reports draw it.
  """
  chosen = confident_mistakes(labels, probabilities, rows * columns)
  side = images.shape[1]
  width, height = side + 4, side + 12  # A cell: the image, a margin and two lines of text.
  mosaic = np.full((rows * height, columns * width, images.shape[3]), 255, np.uint8)
  figure = Figure(figsize=(0.06 * columns * width, 0.06 * rows * height + 0.4))
  axes = figure.add_axes((0, 0, 1, 1 - 0.4 / figure.get_figheight()))
  for k, i in enumerate(chosen):
    top, left = (k // columns) * height + height - side - 1, (k % columns) * width + 2
    mosaic[top:top + side, left:left + side] = images[i]
    predicted = probabilities[i].argmax()
    axes.text(left + side / 2, top - 1, f'true: {class_names[labels[i]]}\npredicted: '
              f'{class_names[predicted]} {probabilities[i, predicted]:.0%}', ha='center',
              va='bottom', fontsize=9)
  axes.imshow(mosaic, interpolation='nearest')
  axes.axis('off')
  figure.suptitle(f'{title}: the {len(chosen)} most confident mistakes'
                  if len(chosen) else f'{title}: no mistakes', y=1 - 0.05 / figure.get_figheight(),
                  va='top')
  return figure
