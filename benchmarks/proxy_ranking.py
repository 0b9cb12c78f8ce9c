"""Does a short run rank ResNet designs as the full run does? Evidence for --mode=search's pruner.

A Hyperband / successive-halving search stops most designs after an epoch or two of the long
schedule and trains only the best-looking ones in full; that pays only if the early validation
accuracy ranks designs as the final one does. This script measures it on the real CIFAR-10
subset (5,169 train / 1,017 test images) with small widths, on a CPU:

  train:   trains each of --designs sampled designs for --epochs of the long (cosine) schedule
           with a fixed validation split, one run per <workdir>/<design>, and records each
           epoch's validation and test accuracy and loss, and each validation image's
           correctness and loss (from every epoch's checkpoint), in <workdir>/curves.json.
           Running it again resumes where it stopped.
  analyze: Spearman rank correlation of the epoch-1 and epoch-2 signals with the final
           validation accuracy, the split's noise, and the full-training top 3.
  replay:  the recorded curves through Optuna's own pruners (Hyperband, successive halving):
           training is deterministic, so a pruned trial's first k epochs are the full run's,
           and the replay makes the real search's decisions for the same trial order.

  python benchmarks/proxy_ranking.py --stage=train --workdir=/tmp/proxy_runs
  python benchmarks/proxy_ranking.py --stage=analyze --workdir=/tmp/proxy_runs
  python benchmarks/proxy_ranking.py --stage=replay --workdir=/tmp/proxy_runs

Test accuracy is recorded as a check on the validation split; nothing here selects by it.
"""

import argparse
import json
import math
import os
import pathlib
import sys
import time

import numpy as np
import optuna
import scipy.stats

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from resnet_jax import cpu_tuning  # pylint: disable=g-import-not-at-top

cpu_tuning.use_fast_cpu_flags()  # Before JAX starts, as launch.py.

# pylint: disable=g-import-not-at-top
import jax
import orbax.checkpoint as ocp
from absl import logging

from configs import default
from resnet_jax import caches, checkpoints, event_files, parallel, search, train
# pylint: enable=g-import-not-at-top

# The sampled space: the search's dimensions at small widths.
NUM_LAYERS = (2, 3, 4)
BLOCKS = (1, 2, 3)
CHANNELS = (8, 16)  # C_1; each later layer doubles it.
CONV_KERNELS = (3, 5)
SKIP_KERNELS = (1, 3)
POOLS = (0, 2, 4)  # Those too large for the last feature map are left out.


def conv_macs(design: search.Design) -> int:
  """Multiply-adds of the design's convolutions per 32x32 image (stem, blocks, projections)."""
  size, width = 32, design.channels[0]
  macs = size * size * 3 * width * 9  # The stem.
  for i, (blocks, channels) in enumerate(zip(design.blocks, design.channels)):
    f, k = design.conv_kernel[i], design.skip_kernel[i]
    for j in range(blocks):
      stride = 2 if i > 0 and j == 0 else 1
      out = math.ceil(size / stride)
      macs += out * out * channels * (width * f * f + channels * f * f)
      if stride > 1 or width != channels:
        macs += out * out * width * channels * k * k
      size, width = out, channels
  return macs


def sample_designs(count: int, seed: int, max_macs: int) -> list[search.Design]:
  """`count` distinct designs, N in turn and the rest at random, each within `max_macs`
  multiply-adds per image (so that no run costs much more than the others on a CPU)."""
  rng = np.random.default_rng(seed)
  designs = []
  for _ in range(1000 * count):
    if len(designs) == count:
      return designs
    n = NUM_LAYERS[len(designs) % len(NUM_LAYERS)]
    final_size, c1 = 32 // 2 ** (n - 1), int(rng.choice(CHANNELS))
    design = search.Design(
        blocks=tuple(int(b) for b in rng.choice(BLOCKS, n)),
        channels=tuple(c1 * 2 ** j for j in range(n)),
        conv_kernel=tuple(int(f) for f in rng.choice(CONV_KERNELS, n)),
        skip_kernel=tuple(int(k) for k in rng.choice(SKIP_KERNELS, n)),
        pool=int(rng.choice([p for p in POOLS if p < final_size])))
    if design not in designs and conv_macs(design) <= max_macs:
      designs.append(design)
  raise SystemExit(f'error: found only {len(designs)} designs within --max_macs={max_macs}')


def run_config(design: search.Design, args, seed: int):
  config = design.apply(default.get_config())
  config.update_from_flattened_dict({
      'seed': seed, 'data.dir': args.data, 'data.val_fraction': args.val_fraction,
      'num_epochs': args.epochs, 'eval_every_epochs': 1, 'checkpoint_every_epochs': 1,
      'keep_checkpoints': args.epochs, 'log_every_steps': 10_000})
  return config


def per_image(config, workdir: str) -> dict[str, list]:
  """Each validation image's correctness and loss after every epoch, from its checkpoint."""
  trainer = train.Trainer(config, parallel.make_mesh())
  labels = trainer.eval_images('val')[1]
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, trainer.initial_state())
  manager = checkpoints.create_manager(workdir, config.keep_checkpoints)
  correct, loss = [], []
  for step in sorted(manager.all_steps()):
    state = manager.restore(step, args=ocp.args.StandardRestore(abstract))
    probabilities = trainer.evaluate_with_probabilities(state, 'val')[1]
    correct.append((probabilities.argmax(-1) == labels).tolist())
    picked = probabilities[np.arange(len(labels)), labels]
    loss.append((-np.log(np.maximum(picked, 1e-12))).round(5).tolist())
  manager.close()
  return {'val_correct': correct, 'val_image_loss': loss}


def curves(workdir: str) -> dict[str, list[float]]:
  """Per-epoch scalars of a finished run, in epoch order."""
  scalars = event_files.read_scalars(workdir)
  steps = sorted(scalars['val_accuracy'])
  return {tag: [scalars[tag][s] for s in steps]
          for tag in ('val_accuracy', 'val_loss', 'test_accuracy', 'test_loss')}


def train_stage(args) -> None:
  path = os.path.join(args.workdir, 'curves.json')
  results = {}
  if os.path.exists(path):
    with open(path) as f:
      results = {(r['name'], r['seed']): r for r in json.load(f)['runs']}

  def train_design(design: search.Design, seed: int) -> None:
    if (design.name, seed) in results:
      return
    workdir = os.path.join(args.workdir, f'{design.name}_seed{seed}')
    config = run_config(design, args, seed)
    start = time.time()
    train.train_and_evaluate(config, workdir)
    trained = time.time() - start
    record = {'name': design.name, 'seed': seed, 'design': design._asdict(),
              'params': search.count_params(design, config.model), 'macs': conv_macs(design),
              'train_seconds': trained} | curves(workdir) | per_image(config, workdir)
    results[(design.name, seed)] = record
    print(f'{design.name} seed {seed}: val {record["val_accuracy"][-1]:.4f} '
          f'test {record["test_accuracy"][-1]:.4f} ({trained:.0f} s)', flush=True)
    with open(path + '.tmp', 'w') as f:
      json.dump({'data': args.data, 'epochs': args.epochs, 'val_fraction': args.val_fraction,
                 'runs': list(results.values())}, f)
    os.replace(path + '.tmp', path)

  designs = sample_designs(args.designs, args.design_seed, args.max_macs)
  for design in designs:
    train_design(design, 0)
  # The split's and the training's noise where it matters: the best designs with other seeds.
  final = [results[(d.name, 0)]['val_accuracy'][-1] for d in designs]
  for i in top(final, args.noise_top):
    for seed in args.noise_seeds:
      train_design(designs[i], seed)


def load(workdir: str) -> tuple[dict, list[dict], list[dict]]:
  """(the file's header, the seed-0 runs, the other seeds' runs), with per-image arrays."""
  with open(os.path.join(workdir, 'curves.json')) as f:
    results = json.load(f)
  for run in results['runs']:
    run['val_correct'] = np.array(run['val_correct'], bool)
    run['val_image_loss'] = np.array(run['val_image_loss'], np.float32)
  main = [r for r in results['runs'] if r['seed'] == 0]
  return results, main, [r for r in results['runs'] if r['seed'] != 0]


def signals(runs: list[dict], images=None) -> dict[str, np.ndarray]:
  """Designs x epochs arrays of validation accuracy and minus loss (higher is better for both),
  over `images` (indices into the validation split; all by default)."""
  images = slice(None) if images is None else images
  return {'accuracy': np.stack([r['val_correct'][:, images].mean(-1) for r in runs]),
          'loss': -np.stack([r['val_image_loss'][:, images].mean(-1) for r in runs])}


def spearman(x, y) -> float:
  return float(scipy.stats.spearmanr(x, y).statistic)


def top(values, k: int) -> list[int]:
  return [int(i) for i in np.argsort(-np.asarray(values), kind='stable')[:k]]


def analyze_stage(args) -> dict:
  """Prints the ranking evidence (tables in markdown) and returns it."""
  header, runs, others = load(args.workdir)
  epochs = header['epochs']
  num_val = runs[0]['val_correct'].shape[1]
  final = signals(runs)['accuracy'][:, -1]
  scalar = np.array([r['val_accuracy'] for r in runs])
  assert np.allclose(scalar, signals(runs)['accuracy'], atol=1e-4), 'per-image != scalars'
  rng = np.random.default_rng(0)
  out = {'designs': len(runs), 'num_val': num_val, 'epochs': epochs}
  print(f'{len(runs)} designs, {epochs}-epoch cosine schedule, {num_val} validation images '
        f'(val_fraction {header["val_fraction"]}), data {header["data"]}\n')
  print('| design | params | MMACs | val acc by epoch 1..' f'{epochs}' ' | val loss 8 | '
        'test acc 8 | train s |')
  print('|---|---:|---:|---|---:|---:|---:|')
  for i in top(final, len(runs)):
    r = runs[i]
    print(f'| {r["name"]} | {r["params"]:,} | {r["macs"] / 1e6:.1f} | '
          + ' '.join(f'{a:.3f}' for a in r['val_accuracy']) +
          f' | {r["val_loss"][-1]:.3f} | {r["test_accuracy"][-1]:.3f} | '
          f'{r["train_seconds"]:.0f} |')
  # Spearman of each epoch's signal with the final validation accuracy; a 90% interval from
  # resampling the designs; and its mean over smaller validation splits (subsets of the images).
  print('\nSpearman rank correlation with the final (epoch-8) validation accuracy '
        '[90% interval, designs resampled]:\n')
  print('| signal | ' + ' | '.join(f'epoch {k}' for k in range(1, epochs)) + ' |')
  print('|---|' + '---:|' * (epochs - 1))
  out['spearman'] = {}
  for name, values in signals(runs).items():
    cells = []
    for k in range(epochs - 1):
      rho = spearman(values[:, k], final)
      boot = [spearman(values[d, k], final[d]) for d in
              (rng.integers(0, len(runs), len(runs)) for _ in range(1000))]
      low, high = np.nanpercentile(boot, [5, 95])
      out['spearman'][f'{name}@{k + 1}'] = rho
      cells.append(f'{rho:+.2f} [{low:+.2f}, {high:+.2f}]')
    print(f'| val {name} | ' + ' | '.join(cells) + ' |')
  test = np.array([r['test_accuracy'][-1] for r in runs])
  out['spearman']['test@8'] = spearman(final, test)
  print(f'| test accuracy at epoch {epochs} | ' + f'{spearman(final, test):+.2f} |' +
        ' |' * (epochs - 2))
  # Smaller validation splits: the same designs scored on random subsets of the images.
  print('\nThe same on random subsets of the validation images (mean over 200 subsets; '
        'the final accuracy stays on all images):\n')
  print('| images | ' + ' | '.join(f'acc@{k}' for k in range(1, 5)) + ' | '
        + ' | '.join(f'loss@{k}' for k in range(1, 5)) + ' |')
  print('|---:|' + '---:|' * 8)
  for fraction in (0.25, 0.5, 1.0):
    size = round(num_val * fraction)
    rhos = np.zeros((200, 2, 4))
    for j in range(200 if fraction < 1 else 1):
      sub = signals(runs, rng.choice(num_val, size, replace=False))
      rhos[j] = [[spearman(sub[name][:, k], final) for k in range(4)]
                 for name in ('accuracy', 'loss')]
    rhos = rhos[:200 if fraction < 1 else 1].mean(0)
    print(f'| {size} | ' + ' | '.join(f'{v:+.2f}' for v in rhos.ravel()) + ' |')
  # The noise: binomial, paired (the same images) and over seeds.
  best = top(final, 3)
  se = math.sqrt(final[best[0]] * (1 - final[best[0]]) / num_val)
  print(f'\nTop 3 at epoch {epochs}: ' + ', '.join(
      f'{runs[i]["name"]} {final[i]:.2%} (test {test[i]:.2%})' for i in best))
  print(f'Binomial standard error of one accuracy near {final[best[0]]:.0%} on {num_val} '
        f'images: {se:.2%}.')
  paired = paired_se(runs, best[0])
  print('Paired standard error of (best - design) on the same images, and the gap: ' + ', '.join(
      f'#{rank + 1} {paired[i]:.2%} (gap {final[best[0]] - final[i]:.2%})'
      for rank, i in enumerate(top(final, 6))))
  out.update(top3=[runs[i]['name'] for i in best], binomial_se=se,
             final={r['name']: float(f) for r, f in zip(runs, final)})
  if others:
    print('\nSeeds (each seed draws its own validation split, initialization and batch order):')
    spreads = []
    for r in runs:
      mine = [r] + [o for o in others if o['name'] == r['name']]
      if len(mine) > 1:
        vals = [m['val_accuracy'][-1] for m in mine]
        tests = [m['test_accuracy'][-1] for m in mine]
        spreads.append((np.std(vals, ddof=1), np.std(tests, ddof=1)))
        print(f'  {r["name"]}: val ' + ', '.join(f'{v:.2%}' for v in vals) + ' ; test '
              + ', '.join(f'{v:.2%}' for v in tests))
    val_sd, test_sd = np.sqrt(np.mean(np.square(spreads), axis=0))
    print(f'Pooled seed-to-seed standard deviation: val {val_sd:.2%}, test {test_sd:.2%}.')
    out.update(seed_sd_val=float(val_sd), seed_sd_test=float(test_sd))
  return out


def paired_se(runs: list[dict], best: int) -> np.ndarray:
  """Standard error of (best - each) final validation accuracy on the same images."""
  final = np.stack([r['val_correct'][-1] for r in runs]).astype(float)
  diff = final[best] - final
  return diff.std(-1, ddof=1) / math.sqrt(final.shape[1])


def replay(values: np.ndarray, order, pruner, study_name: str) -> tuple[int, int]:
  """Runs the designs in `order` through an in-memory Optuna study with `pruner`, each trial
  reporting its recorded per-epoch `values` (higher is better) and, if never pruned, the last
  one as its value, as --mode=search does: (the best completed design, epochs trained).
  Hyperband puts trials in brackets by the study's name and their number."""
  study = optuna.create_study(study_name=study_name, direction='maximize', pruner=pruner)
  spent, epochs = 0, values.shape[1]
  for design in order:
    trial = study.ask()
    trial.set_user_attr('design', int(design))
    for epoch in range(1, epochs + 1):
      spent += 1
      trial.report(float(values[design, epoch - 1]), epoch)
      if epoch < epochs and trial.should_prune():
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        break
    else:
      study.tell(trial, float(values[design, -1]))
  return study.best_trial.user_attrs['design'], spent


def pruners(epochs: int):
  """(label, pruner) for every setting replayed."""
  for min_resource in (1, 2, 3):
    for factor in (2, 3, 4):
      yield (f'SHA min {min_resource} rf {factor}', optuna.pruners.SuccessiveHalvingPruner(
          min_resource=min_resource, reduction_factor=factor))
      yield (f'Hyperband min {min_resource} rf {factor}', optuna.pruners.HyperbandPruner(
          min_resource=min_resource, max_resource=epochs, reduction_factor=factor))


def replay_stage(args) -> None:
  header, runs, _ = load(args.workdir)
  epochs, num_val = header['epochs'], runs[0]['val_correct'].shape[1]
  optuna.logging.set_verbosity(optuna.logging.WARNING)
  final_all = signals(runs)['accuracy'][:, -1]
  best3 = set(top(final_all, 3))
  rng = np.random.default_rng(args.replay_seed)
  orders = [rng.permutation(len(runs)) for _ in range(args.orders)]
  print(f'{len(runs)} designs x {epochs} epochs = {len(runs) * epochs} epochs in full; '
        f'{args.orders} random trial orders. Top 3 by final validation accuracy: '
        + ', '.join(runs[i]['name'] for i in top(final_all, 3)) + '\n')
  print('| validation images | pruner | signal | pick in top 3 | picked the best | '
        'mean gap to the best | epochs (mean, max) |')
  print('|---:|---|---|---:|---:|---:|---:|')
  for size in sorted({num_val, num_val // 2}, reverse=True):
    # A smaller split: the signals and the final accuracy of the search on a subset of the
    # images; the ground truth stays the full split's.
    images = rng.choice(num_val, size, replace=False) if size < num_val else None
    measured = signals(runs, images)
    for label, pruner in pruners(epochs):
      for name, values in measured.items():
        picks, spent = zip(*(replay(values, order, pruner, args.study_name)
                             for order in orders))
        share = np.mean([p in best3 for p in picks])
        best = np.mean([p == top(final_all, 1)[0] for p in picks])
        gap = np.mean([final_all.max() - final_all[p] for p in picks])
        percent = 100 * np.array(spent) / (len(runs) * epochs)
        print(f'| {size} | {label} | {name} | {share:.0%} | {best:.0%} | {gap:.2%} | '
              f'{percent.mean():.0f}%, {percent.max():.0f}% |', flush=True)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--stage', choices=('train', 'analyze', 'replay'), required=True)
  parser.add_argument('--workdir', default='runs/proxy_ranking')
  parser.add_argument('--data', default=str(ROOT.parent / 'shared' / 'data' / 'cifar10_real'))
  parser.add_argument('--designs', type=int, default=24)
  parser.add_argument('--design_seed', type=int, default=0)
  parser.add_argument('--max_macs', type=int, default=8_000_000)
  parser.add_argument('--epochs', type=int, default=8)
  parser.add_argument('--val_fraction', type=float, default=0.2)
  parser.add_argument('--noise_top', type=int, default=3,
                      help='The best this many designs also train with --noise_seeds.')
  parser.add_argument('--noise_seeds', type=lambda s: [int(x) for x in s.split(',')],
                      default=[1, 2])
  parser.add_argument('--orders', type=int, default=20, help='Random trial orders replayed.')
  parser.add_argument('--replay_seed', type=int, default=0)
  parser.add_argument('--study_name', default='proxy_ranking',
                      help="Hyperband's brackets depend on it (a search's: its workdir's name).")
  args = parser.parse_args()
  if args.stage == 'train':
    caches.use_compilation_cache()
    logging.set_verbosity(logging.WARNING)
    train_stage(args)
  elif args.stage == 'analyze':
    analyze_stage(args)
  else:
    replay_stage(args)


if __name__ == '__main__':
  main()
