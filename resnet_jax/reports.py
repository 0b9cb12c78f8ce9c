"""Evaluation reports in the workdir: overall and per-class accuracy and the confusion matrix,
as JSON for programs and as a Markdown table for people."""

import json
import os

from resnet_jax.cifar10 import CLASS_NAMES


def markdown(summary: dict, title: str) -> str:
  """A summary of `train.eval_summary` as Markdown tables."""
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
  return '\n'.join(lines) + '\n'


def write(workdir: str, summary: dict, *, name: str = 'report',
          title: str = 'Test results') -> list[str]:
  """Writes `<name>.json` and `<name>.md` to `workdir`; returns their paths."""
  os.makedirs(workdir, exist_ok=True)
  paths = [os.path.join(workdir, f'{name}.json'), os.path.join(workdir, f'{name}.md')]
  with open(paths[0], 'w') as f:
    json.dump(summary, f, indent=2)
  with open(paths[1], 'w') as f:
    f.write(markdown(summary, title))
  return paths
