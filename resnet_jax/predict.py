"""A trained run's classes and probabilities for a user's image files, as a CSV file and a short
table for the console (--mode=predict).

  python launch.py --workdir runs/resnet24 --mode=predict --inputs photos/ more.npy cat.png

See `images` for how pictures are brought to 32x32 RGB.
"""

import csv
import dataclasses
import io
import os
import time

import numpy as np

from resnet_jax import atomic_files
from resnet_jax import images as user_images
from resnet_jax import trained

TOP = 3  # Classes in the CSV's last column.
SHOWN = 10  # Rows of the console table.
FILENAME = 'predictions.csv'  # Inside the workdir, by default.


def rows(names: list[str], probabilities: np.ndarray, class_names) -> list[dict]:
  """One CSV row per image: input, class, probability, top_3 ('cat 0.812; dog 0.101; ...')."""
  result = []
  for name, p in zip(names, probabilities):
    top = np.argsort(-p, kind='stable')[:TOP]
    result.append({'input': name, 'class': class_names[top[0]],
                   'probability': f'{p[top[0]]:.4f}',
                   f'top_{TOP}': '; '.join(f'{class_names[i]} {p[i]:.4f}' for i in top)})
  return result


def write_csv(path: str, table: list[dict]) -> None:
  """Writes the rows to `path` at once: a reader never sees a partial file."""
  text = io.StringIO()
  writer = csv.DictWriter(text, fieldnames=list(table[0]), lineterminator='\n')
  writer.writeheader()
  writer.writerows(table)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  atomic_files.write(path, text.getvalue())


def console_table(table: list[dict], shown: int = SHOWN) -> str:
  """The first `shown` rows, aligned, and how many more the CSV holds."""
  head = [(r['input'], r['class'], r['probability']) for r in table[:shown]]
  widths = [max(len(cells[i]) for cells in head + [('input', 'class', 'probability')])
            for i in range(3)]
  line = lambda cells: '  '.join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
  lines = [line(('input', 'class', 'probability'))] + [line(cells) for cells in head]
  if len(table) > shown:
    lines.append(f'... and {len(table) - shown:,} more')
  return '\n'.join(lines)


@dataclasses.dataclass(frozen=True)
class Predictions:
  rows: list[dict]  # As in the CSV: input, class, probability, top classes.
  path: str  # The CSV written.
  seconds: float  # Predicting, compilation included.
  step: int  # The checkpoint's step, and its folder.
  checkpoint: str


def predict_files(workdir: str, inputs: list[str], output: str | None = None,
                  checkpoint: str = 'default') -> Predictions:
  """Predicts the images of `inputs` with the run in `workdir` and writes the CSV to `output`
  (default `<workdir>/predictions.csv`).

  Every input is decoded and checked (and the checkpoint loaded) before anything is written.
  """
  model = trained.load(workdir, checkpoint)
  images, names = user_images.read(inputs)
  start = time.perf_counter()
  probabilities = model.predict(images)
  seconds = time.perf_counter() - start
  output = output or os.path.join(workdir, FILENAME)
  table = rows(names, probabilities, model.class_names)
  write_csv(output, table)
  return Predictions(rows=table, path=output, seconds=seconds, step=model.step,
                     checkpoint=model.checkpoint)
