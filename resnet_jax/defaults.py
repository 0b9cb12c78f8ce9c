"""The defaults of every config field: config files (`configs/*.py`) start from these and override a
few fields, and a run's saved config.json is merged onto them (`run_config.load`).

The model here is ResNet-24 (B=3,5,3, C=64,128,256): 4,918,602 trainable parameters, trained
with SGD at 0.1 (cosine), crop + flip, 200 epochs at batch 128; configs/resnet24.py changes this
to its source's recipe. configs/default.py is this config as a file, for --config.
"""

import ml_collections
from ml_collections import config_dict


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0

  config.model = ml_collections.ConfigDict()
  config.model.blocks = (3, 5, 3)  # B_i; the number of residual layers N is its length.
  config.model.channels = (64, 128, 256)  # C_i.
  # F_i and K_i: an int for every layer, or one per layer (e.g. --config.model.conv_kernel=3,3,5).
  config.model.conv_kernel = config_dict.FieldReference(3, field_type=object)
  config.model.skip_kernel = config_dict.FieldReference(1, field_type=object)
  config.model.pool = 0  # P: average-pool window; 0 = global average pooling.
  config.model.max_params = 5_000_000  # Designs above this are refused; 0 = no limit.
  # DropBlock after every residual block: its final rate (0 = off), reached linearly from 0 over
  # the run as in its paper, and the block side. Dropout on the pooled features (0 = off).
  config.model.dropblock_rate = 0.0
  config.model.dropblock_size = 3
  config.model.dropout = 0.0
  # How ReLU is expressed: 'max' (nn.relu) or 'select' (jnp.where: same values, and XLA:CPU
  # then trains ~1.4x faster); 'auto' = select on CPU, max on GPU and TPU.
  config.model.relu = 'auto'
  config.model.activation = 'relu'  # relu | gelu (exact, erf-based).
  # BatchNorm scale: trained, or fixed at 1 (False: not a parameter, so not counted).
  config.model.bn_scale = True
  # Identity ("dirac") init: each conv's first min(C_in, C_out) filters pass their input
  # channel through (the rest keep the default init), as airbench. False = default init only.
  config.model.dirac_init = False
  # A fixed 2x2 patch-whitening conv before the stem (as airbench), computed from the first
  # 5,000 training images; its kernel is not trained and not counted, its 24 biases are.
  config.model.whitening = False

  config.data = ml_collections.ConfigDict()
  # '' = tfds.load('cifar10'). Or a local copy: a cifar-10-batches-py folder, or an image
  # folder with train/<class>/* and test/<class>/*.
  config.data.dir = ''
  # Held out from the training set for validation (0 = none, unless early stopping is on: then
  # 10%, since early stopping never watches the test set).
  config.data.val_fraction = 0.0
  config.data.train_fraction = 1.0  # Train on this leading fraction of the training set.
  # Where training batches are made. device: the dataset lives on the devices and each step
  # gathers and augments its batch there; host: tf.data on the CPU (needed for random
  # perspective). auto: device whenever the augmentation allows it.
  config.data.pipeline = 'auto'

  config.augment = ml_collections.ConfigDict()
  # Random 32x32 crop after padding by crop_padding pixels (0 = off): a random translation by
  # up to that many pixels. The padding is zeros, or the image's reflection (crop_fill=reflect).
  config.augment.crop_padding = 4
  config.augment.crop_fill = 'zero'
  config.augment.flip = True  # Random horizontal flip.
  # With flip: mirror each image in every other epoch instead of at random (airbench's
  # alternating flip; device pipeline only).
  config.augment.alternating_flip = False
  config.augment.cutout = 0  # Side of each square hole; 0 = off.
  config.augment.cutout_holes = 1
  # torchvision's RandomPerspective: corner distortion (0 = off) and probability, applied
  # `perspective_repeats` times in a row, before the crop.
  config.augment.perspective_distortion = 0.0
  config.augment.perspective_prob = 0.5
  config.augment.perspective_repeats = 1
  # On device, per batch; loss on the mixed labels; 0 = off. Both on: one or the other, half the
  # time each.
  config.augment.mixup_alpha = 0.0
  config.augment.cutmix_alpha = 0.0

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = 'sgd'  # sgd | adam | adamw | adadelta
  config.optimizer.learning_rate = 0.1  # The peak, for onecycle.
  config.optimizer.momentum = 0.9  # sgd only; 0 = plain SGD.
  config.optimizer.nesterov = False
  config.optimizer.weight_decay = 5e-4  # L2 for sgd, adam, adadelta; decoupled for adamw.
  config.optimizer.decay_all_params = False  # False: kernels only, no BatchNorm or biases.
  config.optimizer.clip_global_norm = 0.0  # 0 = no gradient clipping.
  # Learning-rate factor of BatchNorm scales/biases and the Dense bias (their decay unscaled).
  config.optimizer.bias_lr_factor = 1.0
  # Lookahead: every sync_period steps the slow weights move step_size of the way to the fast
  # ones, which restart there; evaluation and reports use the slow weights. 0 = off.
  config.optimizer.lookahead_sync_period = 0
  config.optimizer.lookahead_step_size = 0.5
  config.optimizer.schedule = 'cosine'  # constant | cosine | step | onecycle
  config.optimizer.warmup_epochs = 0.0  # Linear from 0; not with onecycle.
  # step: divide the learning rate by step_factor every step_epochs epochs.
  config.optimizer.step_epochs = 30
  config.optimizer.step_factor = 10.0
  config.label_smoothing = 0.0
  config.ema_decay = 0.0  # EMA of the weights, evaluated and checkpointed too; 0 = off.
  # Stop after this many epochs without a lower validation loss, keeping the best checkpoint in
  # <workdir>/checkpoints_best; 0 = off. Without config.data.val_fraction, 10% is held out.
  config.early_stopping_patience = 0
  # Test-time augmentation: evaluate on the mean predicted probabilities of each image's views:
  # the image, its mirror (tta_flip), and those translated by tta_shift pixels up-left and
  # down-right (0 = no translated views).
  config.tta_flip = False
  config.tta_shift = 0

  # --mode=search: a study on Optuna. Each trial samples a design from the ranges below (N, C_1,
  # then B_i, F_i and K_i per layer, P) and the recipe ranges that are set, is refused before any
  # training if over config.model.max_params, trains as a run in <workdir>/trial-NNNN, reports
  # its validation metric after every epoch (config.data.val_fraction must hold some out) of one
  # schedule of config.num_epochs, and the pruner stops the weak ones.
  config.search = ml_collections.ConfigDict()
  config.search.num_layers = (2, 3, 4)  # N.
  config.search.blocks = (1, 2, 3)  # B_i, chosen per layer.
  config.search.channels = (32, 64)  # C_1; each later layer doubles the width.
  config.search.conv_kernel = (3,)  # F_i, chosen per layer.
  config.search.skip_kernel = (1,)  # K_i, chosen per layer.
  config.search.pool = (0,)  # P; a pool wider than a design's last feature map is refused.
  # Recipe ranges lo,hi, sampled log-uniformly (label smoothing: uniformly); () = not searched,
  # the config's own value.
  config.search.learning_rate = ()
  config.search.weight_decay = ()
  config.search.label_smoothing = ()
  config.search.trials = 20  # Trials that train, in all: a total over every worker.
  # The pruner's signal and rungs, as measured in docs/search_evidence.md: after 1 epoch no
  # signal ranks designs; after 2, successive halving by factor 3 on the validation loss picked
  # a top-3 design in 98-100% of trial orders for 46% of the epochs (Hyperband: as reliable,
  # 14-25 points more epochs). The loss compares trials only when they train alike: searching
  # label smoothing needs val_accuracy.
  config.search.objective = 'val_loss'  # val_loss (minimized) | val_accuracy (maximized).
  config.search.sampler = 'tpe'  # tpe | random.
  # halving (successive halving) | hyperband | none (every trial trains config.num_epochs).
  config.search.pruner = 'halving'
  config.search.min_epochs = 2  # The fewest epochs a trial trains before it may be pruned.
  config.search.reduction_factor = 3  # Each rung promotes the best 1/reduction_factor.
  # After the study: train the best design and recipe on the whole training set for this many
  # epochs in <workdir>/final and test that; 0 = test the best trial itself, and print the
  # command that trains it.
  config.search.final_epochs = 0.0
  # '' = a journal file, <workdir>/study.journal, which the workers on one machine (or one
  # shared file system) share; or a storage URL Optuna takes, e.g.
  # postgresql://user:password@host/db, for workers on several machines.
  config.search.storage = ''
  config.search.study_name = ''  # '' = the workdir's name.
  # preview=True: list the designs within the budget, largest first, instead of searching. grid:
  # every design from the ranges above; compound: config.model scaled by depth_coefficient**phi
  # in depth and width_coefficient**phi in width (EfficientNet), phi in steps of phi_step, up to
  # the largest design within config.model.max_params.
  config.search.preview = False
  config.search.scale = 'grid'
  config.search.max_designs = 100_000  # Larger grids are refused before counting starts.
  config.search.depth_coefficient = 1.2  # alpha.
  config.search.width_coefficient = 1.1  # beta.
  config.search.phi_step = 0.25
  config.search.rows = 20  # List the largest designs (FLOPs are counted for these); 0 = all.

  # bf16 compute; fp32 parameters, BatchNorm statistics and loss. For GPUs and TPUs, not CPUs.
  config.half_precision = False
  config.batch_size = 128  # Global: split over every device of every process.
  config.eval_batch_size = 512
  config.num_epochs = 200.0  # May be fractional (the run ends mid-epoch).
  # Training steps per call to the device (a loop on device between host interactions); 0 =
  # auto: 1 on CPU, where a step takes seconds, 32 on GPU and TPU.
  config.steps_per_dispatch = 0
  # Cadences, each a whole number of the unit its name ends with (steps or epochs); evaluation
  # and checkpoints also happen at the end. checkpoint_every_steps adds step checkpoints to the
  # epoch ones; 0 = off.
  config.log_every_steps = 100
  config.eval_every_epochs = 1
  config.checkpoint_every_epochs = 1
  config.checkpoint_every_steps = 0
  config.keep_checkpoints = 3  # The newest ones in <workdir>/checkpoints; older ones are deleted.
  config.nonfinite_loss = 'stop'  # stop | skip: what a NaN/inf loss or gradient does.
  # (after, count): a JAX profiler trace of `count` training steps after the first `after` (so
  # (10, 5) traces steps 11-15, past compilation) in <workdir>/plugins/profile; count 0 = off.
  config.profile_steps = (0, 0)

  config.benchmark = ml_collections.ConfigDict()  # --mode=benchmark
  config.benchmark.warmup_steps = 2  # Untimed steps (and pipeline batches) before timing.
  config.benchmark.steps = 5  # Timed train and eval steps; the median is reported.
  config.benchmark.pipeline_batches = 50  # Timed batches of the input pipeline.
  # Timed steps through the training loop and its pipeline, ending after loop_seconds.
  config.benchmark.loop_steps = 200
  config.benchmark.loop_seconds = 60.0
  config.benchmark.dataset_size = 50_000  # Synthetic training images (CIFAR-10 has 50,000).
  return config
