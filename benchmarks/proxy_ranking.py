"""Does a short run rank ResNet designs as the full run does? Evidence for --mode=search's pruner.

A Hyperband / successive-halving search stops most designs after an epoch or two of the long
schedule and trains only the best-looking ones in full; that pays only if the early validation
signal ranks designs as the final one does. This script measures it on the real CIFAR-10 subset
(5,169 train / 1,017 test images) with small widths, on a CPU (docs/search_evidence.md):

  train:   trains --designs sampled designs for --epochs of the long (cosine) schedule with each
           of --seeds (each seed: another validation split, initialization and batch order), a
           run per <workdir>/<design>_seed<S>, and records each epoch's validation and test
           accuracy and loss, and each validation image's correctness and loss (from every
           epoch's checkpoint), in <workdir>/curves.json. Run again, it resumes.
  analyze: Spearman rank correlation of each epoch's signal with the final validation accuracy,
           the noise (binomial, paired on the same images, seed to seed), the top 3.
  replay:  the recorded curves through Optuna's own pruners in random trial orders: training is
           deterministic, so a trial pruned after k epochs saw the full run's first k, and the
           replay makes the search's decisions. Also on half the validation images.
  search:  the product's --mode=search over the same designs, queued in the replay's first
           order, checked trial by trial against the replay.

  python benchmarks/proxy_ranking.py --stage=train --workdir=runs/proxy_ranking
  python benchmarks/proxy_ranking.py --stage=analyze --workdir=runs/proxy_ranking
  python benchmarks/proxy_ranking.py --stage=replay --workdir=runs/proxy_ranking
  python benchmarks/proxy_ranking.py --stage=search --workdir=runs/proxy_ranking \
      --search_workdir=runs/proxy_search --pruner=halving --min_epochs=2 --reduction_factor=3 \
      --objective=val_loss

Measured on 6 December 2026 on a shared 2-core CPU (24 designs of 13k-185k parameters, 8 epochs,
1,034 validation images, seeds 0 and 1; 61 + ~40 min of training): after 1 epoch the validation
loss ranks the designs at chance (Spearman -0.06, +0.15) and the accuracy weakly (+0.41, +0.41);
after 2 epochs +0.58 to +0.75 over all 24, but +0.09 to +0.58 over the better half. The full run
itself is no steadier there: seed 1 against seed 0, +0.65 over all and +0.01 over the better
half (a design's final accuracy moves 3.3 points from seed to seed; the split's paired error is
1.4-1.5). Successive halving after 2 epochs, factor 3, on the validation loss picked a top-3
design in 98% / 100% of 50 orders for 46% of the epochs; the real search picked the best in 92 of
192 epochs (48%), every trial stopped where the replay stopped it. Factor 6 averages 40% (90% /
100% top 3 with the loss, 24% / 100% with the accuracy); min_epochs=1 settings pick a top-3
design in 16-78% of the orders on seed 0 (the exceptions train far more, or are luck).

Test accuracy is recorded as a check on the validation split; nothing here selects by it.
"""

import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import time
import warnings

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

from resnet_jax import (caches, checkpoints, console, defaults, designs, event_files, parallel,
                        search, train)
# pylint: enable=g-import-not-at-top

# The sampled space: the search's dimensions at small widths.
NUM_LAYERS = (2, 3, 4)
BLOCKS = (1, 2, 3)
CHANNELS = (8, 16)  # C_1; each later layer doubles it.
CONV_KERNELS = (3, 5)
SKIP_KERNELS = (1, 3)
POOLS = (0, 2, 4)  # Those too large for the last feature map are left out.


def conv_macs(design: designs.Design) -> int:
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


def sample_designs(count: int, seed: int, max_macs: int) -> list[designs.Design]:
  """`count` distinct designs, N in turn and the rest at random, each within `max_macs`
  multiply-adds per image (so that no run costs much more than the others on a CPU)."""
  rng = np.random.default_rng(seed)
  designs = []
  for _ in range(1000 * count):
    if len(designs) == count:
      return designs
    n = NUM_LAYERS[len(designs) % len(NUM_LAYERS)]
    final_size, c1 = 32 // 2 ** (n - 1), int(rng.choice(CHANNELS))
    design = designs.Design(
        blocks=tuple(int(b) for b in rng.choice(BLOCKS, n)),
        channels=tuple(c1 * 2 ** j for j in range(n)),
        conv_kernel=tuple(int(f) for f in rng.choice(CONV_KERNELS, n)),
        skip_kernel=tuple(int(k) for k in rng.choice(SKIP_KERNELS, n)),
        pool=int(rng.choice([p for p in POOLS if p < final_size])))
    if design not in designs and conv_macs(design) <= max_macs:
      designs.append(design)
  raise SystemExit(f'error: found only {len(designs)} designs within --max_macs={max_macs}')


def run_config(design: designs.Design, args, seed: int):
  config = design.apply(defaults.get_config())
  config.update_from_flattened_dict({
      'seed': seed, 'data.dir': args.data, 'data.val_fraction': args.val_fraction,
      'num_epochs': args.epochs, 'eval_every_epochs': 1, 'checkpoint_every_epochs': 1,
      # Every epoch's checkpoint, for `per_image`, and room for those a SIGTERM adds mid-epoch.
      'keep_checkpoints': 4 * args.epochs, 'log_every_steps': 10_000})
  return config


def per_image(config, workdir: str) -> dict[str, list]:
  """Each validation image's correctness and loss after every epoch, from its checkpoint."""
  trainer = train.Trainer(config, parallel.make_mesh())
  labels = trainer.eval_images('val')[1]
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, trainer.initial_state())
  manager = checkpoints.create_manager(workdir, config.keep_checkpoints)
  correct, loss = [], []
  for step in sorted(manager.all_steps()):
    if step % trainer.steps_per_epoch:
      continue  # Saved mid-epoch by a SIGTERM.
    state = manager.restore(step, args=ocp.args.StandardRestore(abstract))
    probabilities = trainer.evaluate_with_probabilities(state, 'val')[1]
    correct.append((probabilities.argmax(-1) == labels).tolist())
    picked = probabilities[np.arange(len(labels)), labels]
    loss.append((-np.log(np.maximum(picked, 1e-12))).round(5).tolist())
  manager.close()
  if len(correct) != config.num_epochs:
    raise SystemExit(f'error: {workdir} lacks some epochs\' checkpoints; delete it and train again')
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

  def train_design(design: designs.Design, seed: int) -> None:
    if (design.name, seed) in results:
      return
    workdir = os.path.join(args.workdir, f'{design.name}_seed{seed}')
    config = run_config(design, args, seed)
    start = time.time()
    train.train_and_evaluate(config, workdir, progress=console.TrainingConsole())
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

  for seed in args.seeds:  # Each seed: another split, initialization and batch order.
    for design in sample_designs(args.designs, args.design_seed, args.max_macs):
      train_design(design, seed)


def load(workdir: str) -> tuple[dict, dict[int, list[dict]]]:
  """(the file's header, {seed: its runs, one per design, in the same order}) with the
  per-image arrays, for every seed that has all the designs."""
  with open(os.path.join(workdir, 'curves.json')) as f:
    results = json.load(f)
  runs = {(r['name'], r['seed']): r for r in results['runs']}
  names = [r['name'] for r in results['runs'] if r['seed'] == 0]
  by_seed = {}
  for seed in sorted({r['seed'] for r in results['runs']}):
    if all((name, seed) in runs for name in names):
      by_seed[seed] = [runs[(name, seed)] for name in names]
      for r in by_seed[seed]:
        r['val_correct'] = np.array(r['val_correct'], bool)
        r['val_image_loss'] = np.array(r['val_image_loss'], np.float32)
  return results, by_seed


def signals(runs: list[dict], images=None) -> dict[str, np.ndarray]:
  """Designs x epochs arrays of validation accuracy and minus loss (higher is better for both),
  over `images` (indices into the validation split; all by default)."""
  images = slice(None) if images is None else images
  return {'accuracy': np.stack([r['val_correct'][:, images].mean(-1) for r in runs]),
          'loss': -np.stack([r['val_image_loss'][:, images].mean(-1) for r in runs])}


def spearman(x, y) -> float:
  """NaN where one side is constant (a resample of designs that never learned)."""
  with warnings.catch_warnings():
    warnings.simplefilter('ignore', scipy.stats.ConstantInputWarning)
    return float(scipy.stats.spearmanr(x, y).statistic)


def top(values, k: int) -> list[int]:
  return [int(i) for i in np.argsort(-np.asarray(values), kind='stable')[:k]]


def spearman_cells(values: np.ndarray, final: np.ndarray, rng, label: str = 'all') -> str:
  """Table cells: `label`, then Spearman of each epoch's values with `final` and a 90% interval
  from resampling the designs."""
  cells = [label]
  for k in range(values.shape[1] - 1):
    boot = [spearman(values[d, k], final[d]) for d in
            (rng.integers(0, len(final), len(final)) for _ in range(1000))]
    low, high = np.nanpercentile(boot, [5, 95])
    cells.append(f'{spearman(values[:, k], final):+.2f} [{low:+.2f}, {high:+.2f}]')
  return ' | '.join(cells) + ' |'


def analyze_stage(args) -> None:
  """Prints the ranking evidence as markdown tables."""
  header, by_seed = load(args.workdir)
  epochs, runs = header['epochs'], by_seed[0]
  num_val = runs[0]['val_correct'].shape[1]
  for seed_runs in by_seed.values():
    if not np.allclose(np.array([r['val_accuracy'] for r in seed_runs]),
                       signals(seed_runs)['accuracy'], atol=1e-4):
      raise SystemExit('error: the per-image records disagree with the runs\' event files')
  finals = {seed: signals(r)['accuracy'][:, -1] for seed, r in by_seed.items()}
  tests = {seed: np.array([r['test_accuracy'][-1] for r in seed_runs])
           for seed, seed_runs in by_seed.items()}
  final, mean = finals[0], np.mean(list(finals.values()), axis=0)
  others = [seed for seed in by_seed if seed]
  rng = np.random.default_rng(0)
  print(f'{len(runs)} designs, {epochs}-epoch cosine schedule, {num_val} validation images '
        f'(val_fraction {header["val_fraction"]}), data {header["data"]}, seeds '
        f'{", ".join(map(str, by_seed))}\n')
  print(f'| design | params | MMACs | seed 0: val accuracy after epoch 1..{epochs} | val loss '
        '| test accuracy | ' + ''.join(f'seed {s}: val, test accuracy | ' for s in others)
        + 'train s |')
  print('|---|---:|---:|---|---:|---:|' + '---:|' * len(others) + '---:|')
  for i in top(mean, len(runs)):
    r = runs[i]
    print(f'| {r["name"]} | {r["params"]:,} | {r["macs"] / 1e6:.1f} | '
          + ' '.join(f'{a:.3f}' for a in r['val_accuracy']) +
          f' | {r["val_loss"][-1]:.3f} | {r["test_accuracy"][-1]:.3f} | '
          + ''.join(f'{finals[s][i]:.3f}, {tests[s][i]:.3f} | ' for s in others)
          + f'{r["train_seconds"]:.0f} |')
  print(f'\nSpearman rank correlation with the same runs\' final (epoch-{epochs}) validation '
        'accuracy [90% interval, designs resampled]; "best 12": the better half by it:\n')
  print('| seed | signal | designs | ' + ' | '.join(f'epoch {k}' for k in range(1, epochs))
        + ' |')
  print('|---:|---|---|' + '---:|' * (epochs - 1))
  for seed, seed_runs in by_seed.items():
    half = top(finals[seed], len(runs) // 2)
    for name, values in signals(seed_runs).items():
      print(f'| {seed} | val {name} | ' + spearman_cells(values, finals[seed], rng))
      print(f'| {seed} | val {name} | ' + spearman_cells(values[half], finals[seed][half], rng,
                                                          f'best {len(half)}'))
  print('\nThe same (seed 0) on random subsets of the validation images (mean over 200 '
        'subsets; the final accuracy stays that of all images):\n')
  print('| images | ' + ' | '.join(f'accuracy@{k}' for k in range(1, 5)) + ' | '
        + ' | '.join(f'loss@{k}' for k in range(1, 5)) + ' |')
  print('|---:|' + '---:|' * 8)
  for size in (num_val // 4, num_val // 2):
    rhos = np.mean([[spearman(sub[name][:, k], final) for name in ('accuracy', 'loss')
                     for k in range(4)]
                    for sub in (signals(runs, rng.choice(num_val, size, replace=False))
                                for _ in range(200))], axis=0)
    print(f'| {size} | ' + ' | '.join(f'{v:+.2f}' for v in rhos) + ' |')
  # The noise: binomial and paired (the same images) within a seed, and across seeds.
  print()
  for seed in by_seed:
    print(f'Seed {seed}: top 3 by final validation accuracy: ' + ', '.join(
        f'{runs[i]["name"]} {finals[seed][i]:.2%}' for i in top(finals[seed], 3))
        + '; by test accuracy: ' + ', '.join(
            f'{runs[i]["name"]} {tests[seed][i]:.2%}' for i in top(tests[seed], 3)))
  best = top(final, 1)[0]
  paired = paired_se(runs)
  print(f'Binomial standard error of one accuracy near {final[best]:.0%} on {num_val} images: '
        f'{math.sqrt(final[best] * (1 - final[best]) / num_val):.2%}.')
  print('Seed 0: gap to the best and its paired standard error (the same images): ' + ', '.join(
      f'#{rank + 1} {final[best] - final[i]:.2%} ± {paired[i]:.2%}'
      for rank, i in enumerate(top(final, 8)) if rank))
  print(f'Seed 0: designs within 2 paired standard errors of the best: '
        f'{int(np.sum(final[best] - final <= 2 * paired))}.')
  half = top(final, len(runs) // 2)
  print(f'Seed 0: test against validation accuracy, both final: Spearman '
        f'{spearman(final, tests[0]):+.2f} (all), {spearman(final[half], tests[0][half]):+.2f} '
        f'(best {len(half)}).')
  for seed in others:
    print(f'Seed {seed} against seed 0, final validation accuracy: Spearman '
          f'{spearman(finals[seed], final):+.2f} (all), '
          f'{spearman(finals[seed][half], final[half]):+.2f} (seed 0\'s best {len(half)}); '
          f'test accuracy: {spearman(tests[seed], tests[0]):+.2f} (all).')
  if others:
    def spread(by):  # Root mean square over the designs of the sd over seeds.
      return np.sqrt(np.mean([np.var([by[s][i] for s in by_seed], ddof=1) for i in half]))
    print(f'Seed-to-seed standard deviation of one design\'s final accuracy (root mean square '
          f'over seed 0\'s best {len(half)}): validation {spread(finals):.2%}, test '
          f'{spread(tests):.2%}.')
    print('Top 3 by the mean over seeds of the final validation accuracy: ' + ', '.join(
        f'{runs[i]["name"]} {mean[i]:.2%}' for i in top(mean, 3)))


def paired_se(runs: list[dict]) -> np.ndarray:
  """Standard error of (best - each) final validation accuracy on the same images."""
  final = np.stack([r['val_correct'][-1] for r in runs]).astype(float)
  diff = final[top(final.mean(-1), 1)[0]] - final
  return diff.std(-1, ddof=1) / math.sqrt(final.shape[1])


def replay(values: np.ndarray, order, pruner, study_name: str) -> tuple[int, list[int]]:
  """Runs the designs in `order` through an in-memory Optuna study with `pruner`, each trial
  reporting its recorded per-epoch `values` (higher is better) and, if never pruned, the last
  one as its value, as --mode=search does: (the best completed design, each trial's epochs).
  Hyperband puts trials in brackets by the study's name and their number."""
  study = optuna.create_study(study_name=study_name, direction='maximize', pruner=pruner)
  trained, epochs = [], values.shape[1]
  for design in order:
    trial = study.ask()
    trial.set_user_attr('design', int(design))
    for epoch in range(1, epochs + 1):
      trial.report(float(values[design, epoch - 1]), epoch)
      if epoch < epochs and trial.should_prune():
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        break
    else:
      study.tell(trial, float(values[design, -1]))
    trained.append(epoch)
  return study.best_trial.user_attrs['design'], trained


def pruners(epochs: int):
  """(label, pruner) for every setting replayed; Hyperband only where it has more than one
  bracket (with one, it is successive halving)."""
  for min_resource in (1, 2, 3):
    for factor in (2, 3, 4, 6):
      yield (f'halving min {min_resource} rf {factor}', optuna.pruners.SuccessiveHalvingPruner(
          min_resource=min_resource, reduction_factor=factor))
      if epochs >= min_resource * factor:
        yield (f'hyperband min {min_resource} rf {factor}', optuna.pruners.HyperbandPruner(
            min_resource=min_resource, max_resource=epochs, reduction_factor=factor))


def replay_stage(args) -> None:
  """Prints, for each seed's runs, pruner setting and signal, how often the search's pick is
  among the full runs' best, over random trial orders, and the epochs it trains."""
  header, by_seed = load(args.workdir)
  runs = by_seed[0]
  epochs, num_val = header['epochs'], runs[0]['val_correct'].shape[1]
  mean = np.mean([signals(r)['accuracy'][:, -1] for r in by_seed.values()], axis=0)
  rng = np.random.default_rng(args.replay_seed)
  orders = [rng.permutation(len(runs)) for _ in range(args.orders)]
  print(f'{len(runs)} designs x {epochs} epochs = {len(runs) * epochs} epochs in full; '
        f'{args.orders} random trial orders. "top 3", "the best": by the same runs\' final '
        'validation accuracy on all the images; "within noise": less than 2 paired standard '
        'errors below the best; "top 3 of mean": by the mean over seeds. Top 3 of the mean: '
        + ', '.join(runs[i]['name'] for i in top(mean, 3)) + '.\n')
  print('| seed | validation images | pruner | signal | top 3 | the best | within noise | '
        'top 3 of mean | mean gap to the best | epochs (mean, max) |')
  print('|---:|---:|---|---|---:|---:|---:|---:|---:|---:|')
  for seed, seed_runs in by_seed.items():
    truth = signals(seed_runs)['accuracy'][:, -1]
    best3, noise = set(top(truth, 3)), 2 * paired_se(seed_runs)
    for size in (num_val, num_val // 2):
      # A smaller split: each order's search sees its own random half of the images (signals
      # and final values); the truth stays the whole split's.
      measured = [signals(seed_runs, None if size == num_val else
                          rng.choice(num_val, size, replace=False)) for _ in orders]
      for label, pruner in pruners(epochs):
        for name in ('accuracy', 'loss'):
          picks, trained = zip(*(replay(m[name], order, pruner, args.study_name)
                                 for m, order in zip(measured, orders)))
          picks, spent = np.array(picks), np.array([sum(t) for t in trained])
          gap = truth.max() - truth[picks]
          percent = 100 * spent / (len(runs) * epochs)
          print(f'| {seed} | {size} | {label} | {name} | '
                f'{np.mean([p in best3 for p in picks]):.0%} | {np.mean(gap == 0):.0%} | '
                f'{np.mean(gap <= noise[picks]):.0%} | '
                f'{np.mean([p in top(mean, 3) for p in picks]):.0%} | {gap.mean():.2%} | '
                f'{percent.mean():.0f}%, {percent.max():.0f}% |', flush=True)


def engine_pruner(args, epochs: int) -> optuna.pruners.BasePruner:
  """The pruner --mode=search builds from these settings."""
  if args.pruner == 'hyperband':
    return optuna.pruners.HyperbandPruner(min_resource=args.min_epochs, max_resource=epochs,
                                          reduction_factor=args.reduction_factor)
  return optuna.pruners.SuccessiveHalvingPruner(min_resource=args.min_epochs,
                                                reduction_factor=args.reduction_factor)


def trial_params(design: dict) -> dict:
  """A design as the parameters of a --mode=search trial (resnet_jax.study.Space)."""
  n = len(design['blocks'])
  params = {'num_layers': n, 'channels': design['channels'][0], 'pool': design['pool']}
  for field in ('blocks', 'conv_kernel', 'skip_kernel'):
    params |= {f'{field}_{i + 1}': design[field][i] for i in range(n)}
  return params


def search_stage(args) -> None:
  """Runs the product's search (launch.py --mode=search) over the recorded designs, queued in the
  replay's first trial order, and compares what it saw, pruned and picked with the replay."""
  header, by_seed = load(args.workdir)
  epochs, runs = header['epochs'], by_seed[0]
  order = np.random.default_rng(args.replay_seed).permutation(len(runs))
  workdir = os.path.abspath(args.search_workdir)
  name = os.path.basename(workdir)
  os.makedirs(workdir, exist_ok=True)
  storage = optuna.storages.JournalStorage(
      optuna.storages.journal.JournalFileBackend(os.path.join(workdir, 'study.journal')))
  if name not in [s.study_name for s in optuna.get_all_study_summaries(storage)]:
    study = optuna.create_study(
        study_name=name, storage=storage,
        direction='minimize' if args.objective == 'val_loss' else 'maximize')
    for i in order:
      study.enqueue_trial(trial_params(runs[i]['design']))
  space = {'num_layers': NUM_LAYERS, 'blocks': BLOCKS, 'channels': CHANNELS,
           'conv_kernel': CONV_KERNELS, 'skip_kernel': SKIP_KERNELS, 'pool': POOLS}
  command = [sys.executable, str(ROOT / 'launch.py'), '--config', str(ROOT / 'configs/default.py'),
             '--mode=search', f'--workdir={workdir}', f'--config.data.dir={header["data"]}',
             f'--config.data.val_fraction={header["val_fraction"]}',
             f'--config.num_epochs={epochs}', f'--config.search.trials={len(runs)}',
             '--config.search.sampler=random', f'--config.search.pruner={args.pruner}',
             f'--config.search.min_epochs={args.min_epochs}',
             f'--config.search.reduction_factor={args.reduction_factor}',
             f'--config.search.objective={args.objective}'] + [
                 f'--config.search.{field}={",".join(map(str, values))}'
                 for field, values in space.items()]
  print(' '.join(command[1:]), flush=True)
  subprocess.run(command, check=True)
  # What the search saw, pruned and picked against the recorded runs and their replay.
  signal = 'accuracy' if args.objective == 'val_accuracy' else 'loss'
  recorded = signals(runs)[signal]  # Higher is better: minus the loss.
  sign = 1 if signal == 'accuracy' else -1  # The search reports the loss itself.
  index = {json.dumps(trial_params(r['design']), sort_keys=True): i for i, r in enumerate(runs)}
  trials = sorted(optuna.load_study(study_name=name, storage=storage).get_trials(),
                  key=lambda t: t.number)
  designs = [index[json.dumps(t.params, sort_keys=True)] for t in trials]
  seen = [[t.intermediate_values[e] for e in sorted(t.intermediate_values)] for t in trials]
  worst = max(abs(v - sign * recorded[i, e]) for i, values in zip(designs, seen)
              for e, v in enumerate(values))
  best = min((t for t in trials if t.state == optuna.trial.TrialState.COMPLETE),
             key=lambda t: -sign * t.value)
  picked = designs[trials.index(best)]
  predicted, trained = replay(recorded, order, engine_pruner(args, epochs), name)
  spent = sum(len(values) for values in seen)
  truth = top(signals(runs)['accuracy'][:, -1], len(runs))
  print(f'\nThe search: {sum(len(v) == epochs for v in seen)} of {len(trials)} trials trained '
        f'to the end, {spent} epochs ({spent / (len(runs) * epochs):.0%} of '
        f'{len(runs) * epochs}), the trials took '
        f'{sum(t.user_attrs["seconds"] for t in trials) / 60:.0f} min; picked '
        f'{runs[picked]["name"]}, #{1 + truth.index(picked)} of the full runs by validation '
        'accuracy.')
  print(f'The replay of this order picks {runs[predicted]["name"]} in {sum(trained)} epochs; '
        f'the search stopped {sum(len(v) == n for v, n in zip(seen, trained))} of '
        f'{len(trials)} trials at the replay\'s epoch. Largest difference between a value the '
        f'search reported and the recorded run\'s: {worst:.2g}.')


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--stage', choices=('train', 'analyze', 'replay', 'search'),
                      required=True)
  parser.add_argument('--workdir', default='runs/proxy_ranking')
  parser.add_argument('--data', default=str(ROOT.parent / 'shared' / 'data' / 'cifar10_real'))
  parser.add_argument('--designs', type=int, default=24)
  parser.add_argument('--design_seed', type=int, default=0)
  parser.add_argument('--max_macs', type=int, default=8_000_000)
  parser.add_argument('--epochs', type=int, default=8)
  parser.add_argument('--val_fraction', type=float, default=0.2)
  parser.add_argument('--seeds', type=lambda s: [int(x) for x in s.split(',')], default=[0, 1],
                      help='Every design trains once with each (seed 0 first).')
  parser.add_argument('--orders', type=int, default=50, help='Random trial orders replayed.')
  parser.add_argument('--replay_seed', type=int, default=0)
  parser.add_argument('--study_name', default='proxy_ranking',
                      help="Hyperband's brackets depend on it (a search's: its workdir's name).")
  parser.add_argument('--search_workdir', default='runs/proxy_search')
  parser.add_argument('--pruner', choices=('hyperband', 'halving'), default='halving')
  parser.add_argument('--min_epochs', type=int, default=2)
  parser.add_argument('--reduction_factor', type=int, default=3)
  parser.add_argument('--objective', choices=('val_accuracy', 'val_loss'), default='val_loss')
  args = parser.parse_args()
  optuna.logging.set_verbosity(optuna.logging.WARNING)
  if args.stage == 'train':
    caches.use_compilation_cache()
    logging.set_verbosity(logging.WARNING)
    train_stage(args)
  elif args.stage == 'analyze':
    analyze_stage(args)
  elif args.stage == 'replay':
    replay_stage(args)
  else:
    search_stage(args)


if __name__ == '__main__':
  main()
