"""PNG curves of a run (loss, accuracy, learning rate), read back from the TensorBoard event
files its metric writer left in the workdir, so any run can be plotted, finished or not."""

import os

from matplotlib.figure import Figure

from resnet_jax import event_files
from resnet_jax.errors import ConfigError

CURVES = {
    'loss': ('train_loss', 'val_loss', 'test_loss', 'test_ema_loss'),
    'accuracy': ('train_accuracy', 'val_accuracy', 'test_accuracy', 'test_ema_accuracy'),
    'learning_rate': ('train_learning_rate',),
}


def write_curves(workdir: str) -> list[str]:
  """Writes curves_{loss,accuracy,learning_rate}.png to `workdir`; returns their paths.

  The x axis is in epochs when the run logged its `epoch` at evaluations, else in steps.
  """
  scalars = event_files.read_scalars(workdir)
  if not any(tag in scalars for tags in CURVES.values() for tag in tags):
    raise ConfigError('no training metrics (TensorBoard event files) in %s; point workdir at a '
                      'run of mode=train', workdir, arguments=('workdir', 'mode'))
  steps_per_epoch, x_label = 1, 'step'
  if scalars.get('epoch'):
    last = max(scalars['epoch'])
    steps_per_epoch, x_label = last / scalars['epoch'][last], 'epoch'
  paths = []
  for name, tags in CURVES.items():
    present = [tag for tag in tags if scalars.get(tag)]
    if not present:
      continue
    figure = Figure(figsize=(7, 4.5))
    axes = figure.add_subplot()
    for tag in present:
      steps = sorted(scalars[tag])
      axes.plot([s / steps_per_epoch for s in steps], [scalars[tag][s] for s in steps],
                marker='.' if len(steps) < 50 else None, label=tag)
    axes.set(xlabel=x_label, ylabel=name.replace('_', ' '), title=os.path.basename(
        os.path.abspath(workdir)))
    axes.grid(alpha=0.3)
    axes.legend()
    paths.append(os.path.join(workdir, f'curves_{name}.png'))
    figure.savefig(paths[-1], dpi=100, bbox_inches='tight')
  return paths
