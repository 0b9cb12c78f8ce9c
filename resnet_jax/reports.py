"""Evaluation reports in the workdir: overall and per-class accuracy and the confusion matrix,
as JSON for programs and as Markdown tables and pictures for people."""

import json
import os

from resnet_jax import atomic_files, report_pictures
from resnet_jax.cifar10 import CLASS_NAMES


def markdown(summary: dict, title: str, pictures: dict[str, str] | None = None) -> str:
  """A summary of `train.eval_summary` as Markdown tables, embedding `pictures` (caption ->
  file name in the same folder)."""
  confusion = summary['confusion_matrix']
  correct = sum(confusion[i][i] for i in range(len(confusion)))
  lines = [f'# {title}', '',
           f'Accuracy {summary["accuracy"]:.2%} ({correct} of {summary["num_images"]} images), '
           f'loss {summary["loss"]:.4f}.', '',
           f'Weights of step {summary["step"]}: {summary["selected_by"]}.', '',
           '| class | images | correct | accuracy |', '|---|---:|---:|---:|']
  for i, name in enumerate(CLASS_NAMES):
    accuracy = f'{summary["per_class_accuracy"][name]:.2%}' if sum(confusion[i]) else '-'
    lines.append(f'| {name} | {sum(confusion[i])} | {confusion[i][i]} | {accuracy} |')
  lines += ['', '## Confusion matrix (rows: true class, columns: predicted class)', '',
            '| true \\ predicted | ' + ' | '.join(CLASS_NAMES) + ' |',
            '|---|' + '---:|' * len(CLASS_NAMES)]
  lines += [f'| {name} | ' + ' | '.join(str(c) for c in row) + ' |'
            for name, row in zip(CLASS_NAMES, confusion)]
  for caption, filename in (pictures or {}).items():
    lines += ['', f'## {caption}', '', f'![{caption}]({filename})']
  return '\n'.join(lines) + '\n'


def read(workdir: str, name: str = 'report') -> dict | None:
  """The summary `write` left in `workdir` as `<name>.json`, or None if there is none."""
  path = os.path.join(workdir, f'{name}.json')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def write(workdir: str, summary: dict, *, name: str = 'report', title: str = 'Test results',
          predictions=None) -> list[str]:
  """Writes `<name>.json`, `<name>.md` and the confusion heatmap `<name>_confusion.png` to
  `workdir`, and with `predictions` (the test images as uint8 NHWC, their labels, and the
  predicted probabilities of each image) the most confident mistakes `<name>_mistakes.png`;
  returns their paths."""
  os.makedirs(workdir, exist_ok=True)
  pictures = {'Confusion matrix, rows normalized (%)': f'{name}_confusion.png'}
  figures = [report_pictures.confusion_figure(summary['confusion_matrix'], title)]
  if predictions is not None:
    pictures['Most confident mistakes'] = f'{name}_mistakes.png'
    figures.append(report_pictures.mistakes_figure(*predictions, title))
  paths = [atomic_files.write(os.path.join(workdir, f'{name}.json'),
                              json.dumps(summary, indent=2)),
           atomic_files.write(os.path.join(workdir, f'{name}.md'),
                              markdown(summary, title, pictures))]
  return paths + [report_pictures.save(figure, os.path.join(workdir, filename))
                  for figure, filename in zip(figures, pictures.values())]


def console_summary(results: dict[str, dict], workdir: str) -> str:
  """What `--mode=eval` prints of the reports it wrote to `workdir` ({'test': ..., 'test_ema':
  ...} as `train.Trainer.write_reports` returns them): accuracy and loss, per-class accuracy in a
  short table (two classes a line), the EMA weights' accuracy if kept, and where the files are."""
  summary, ema_summary = results['test'], results.get('test_ema')
  step = f' at step {summary["step"]}' if 'step' in summary else ''
  confusion = summary['confusion_matrix']
  lines = [f'Test accuracy{step}: {summary["accuracy"]:.2%} '
           f'({sum(confusion[i][i] for i in range(len(confusion)))} of '
           f'{summary["num_images"]} images), loss {summary["loss"]:.4f}.']
  if ema_summary is not None:
    lines.append(f'EMA weights: {ema_summary["accuracy"]:.2%}, loss {ema_summary["loss"]:.4f}.')
  width = max(len(name) for name in CLASS_NAMES)
  cells = [f'{name:<{width}}  {sum(row):>6}  '
           + (f'{summary["per_class_accuracy"][name]:>8.2%}' if sum(row) else f'{"-":>8}')
           for name, row in zip(CLASS_NAMES, confusion)]
  head = f'{"class":<{width}}  {"images":>6}  {"accuracy":>8}'
  half = -(-len(cells) // 2)
  lines += ['', f'{head}    {head}']
  lines += [f'{left}    {right}'.rstrip() for left, right in zip(
      cells[:half], cells[half:] + [''] * (2 * half - len(cells)))]
  names = ['report'] + (['report_ema'] if ema_summary is not None else [])
  files = [f'{name}{suffix}' for name in names
           for suffix in ('.md', '.json', '_confusion.png', '_mistakes.png')]
  lines += ['', f'Reports in {workdir}: ' + ', '.join(
      name for name in files if os.path.exists(os.path.join(workdir, name)))]
  return '\n'.join(lines)
