"""A search for the best design and recipe under 5M parameters, on Optuna (docs/searching.md).

Each trial samples N = 2..4 residual layers, B_i = 1..5 blocks and F_i = 3 or 5 per layer, C_1 =
32..128 (each later layer doubling it), K = 1, P = global or 2, and the learning rate (0.05-0.8),
weight decay (5e-5-1e-3, both log-uniform) and label smoothing (0-0.2); a design over 5M
parameters is refused before any training. A trial trains on 45,000 images (5,000 held out for
validation) for up to 18 epochs of one cosine schedule at batch 512 in bf16, Nesterov SGD with a
1-epoch warm-up; successive halving on the validation accuracy (the loss cannot compare trials
smoothed differently) stops the weak ones after 2 and 6 epochs; 60 trials in all. The best
is then trained on all 50,000 images for 30 epochs in runs/search/final and tested, the search's
one look at the test set. One GPU, or one worker per GPU (the same command with
CUDA_VISIBLE_DEVICES=0, 1, ... each; they share runs/search/study.journal):
  python launch.py --config configs/search.py --mode=search --workdir runs/search

Measured here: not measured on a GPU yet (no GPU was lent while it was written).

On a CPU, the same search made small (two-layer designs of 8 or 16 channels, 5 trials of up to
4 epochs, halving after 2, no final run) on the real CIFAR-10 subset (5,169 / 1,017 images);
measured here in docs/searching.md:
  python launch.py --config configs/search.py --mode=search --workdir runs/search_cpu \
      --config.data.dir=path/to/cifar10_real --config.half_precision=False \
      --config.search.num_layers=2 --config.search.blocks=1,2,3 --config.search.channels=8,16 \
      --config.search.conv_kernel=3 --config.search.pool=0 --config.num_epochs=4 \
      --config.search.reduction_factor=2 --config.search.trials=5 --config.search.final_epochs=0

The preview lists designs by size instead, as the source projects searched by hand. Grid: N =
2..4, B_i = 1..5, C_1 = 32..128, F = 3, K = 1, global pooling: 3,875 designs, 928 within the
budget, the 20 largest with FLOPs per image and depth, in about half a minute on a CPU; the first
is B = 5,3,5,3, C = 32..256 (depth 34, 4,994,218 parameters, 509 MFLOPs per image):
  python launch.py --config configs/search.py --mode=search --config.search.preview=True \
      --config.search.conv_kernel=3 --config.search.pool=0

Compound: ResNet-18 (B = 2,2,2,2, C = 64..512, 11,173,962 parameters) scaled by 1.2^phi in
depth and 1.1^phi in width (EfficientNet's alpha and beta), phi in steps of 0.25. The largest
fit is phi = -4: B = 1,1,1,1, C = 44,87,175,350, 2,292,758 parameters; at phi = -3.75 the
rounded-up depth is back to two blocks per layer and the design has 5,471,080.
  python launch.py --config configs/search.py --mode=search --config.search.preview=True \
      --config.search.scale=compound
"""

from resnet_jax import defaults


def get_config():
  config = defaults.get_config()
  config.model.blocks = (2, 2, 2, 2)  # The base of compound scaling (preview): ResNet-18.
  config.model.channels = (64, 128, 256, 512)
  config.data.val_fraction = 0.1
  config.optimizer.nesterov = True
  config.optimizer.warmup_epochs = 1.0
  config.half_precision = True
  config.batch_size = 512
  config.eval_batch_size = 1024
  config.num_epochs = 18.0
  config.search.blocks = (1, 2, 3, 4, 5)
  config.search.channels = (32, 48, 64, 96, 128)
  config.search.conv_kernel = (3, 5)
  config.search.pool = (0, 2)
  config.search.learning_rate = (0.05, 0.8)
  config.search.weight_decay = (5e-5, 1e-3)
  config.search.label_smoothing = (0.0, 0.2)
  config.search.trials = 60
  config.search.objective = 'val_accuracy'  # Label smoothing is searched.
  config.search.final_epochs = 30.0
  return config
