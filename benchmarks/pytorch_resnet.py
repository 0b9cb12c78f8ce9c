"""One ResNet train step in PyTorch, served step by step to `compare_pytorch.py`.

The network, loss and SGD update mirror resnet_jax's (NCHW, or NHWC with --channels_last), on
random data. PyTorch is not a dependency of this project; it lives in its own environment.
"""

import argparse

import torch
from step_server import serve
from torch import nn


class BasicBlock(nn.Module):
  def __init__(self, cin, cout, stride, kernel, skip_kernel):
    super().__init__()
    self.conv1 = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False)
    self.bn1 = nn.BatchNorm2d(cout)
    self.conv2 = nn.Conv2d(cout, cout, kernel, 1, kernel // 2, bias=False)
    self.bn2 = nn.BatchNorm2d(cout)
    self.shortcut = nn.Sequential()
    if stride != 1 or cin != cout:
      self.shortcut = nn.Sequential(
          nn.Conv2d(cin, cout, skip_kernel, stride, skip_kernel // 2, bias=False),
          nn.BatchNorm2d(cout))

  def forward(self, x):
    y = torch.relu(self.bn1(self.conv1(x)))
    return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet(nn.Module):
  def __init__(self, blocks, channels, kernel=3, skip_kernel=1, num_classes=10):
    super().__init__()
    self.stem = nn.Sequential(nn.Conv2d(3, channels[0], 3, 1, 1, bias=False),
                              nn.BatchNorm2d(channels[0]), nn.ReLU())
    layers, cin = [], channels[0]
    for i, (n, cout) in enumerate(zip(blocks, channels)):
      for j in range(n):
        layers.append(BasicBlock(cin, cout, 2 if i > 0 and j == 0 else 1, kernel, skip_kernel))
        cin = cout
    self.layers = nn.Sequential(*layers)
    self.head = nn.Linear(cin, num_classes)

  def forward(self, x):
    return self.head(self.layers(self.stem(x)).mean(dim=(2, 3)))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--compile', action='store_true', help='torch.compile the step')
  parser.add_argument('--channels_last', action='store_true')
  parser.add_argument('--blocks', default='3,5,3')
  parser.add_argument('--channels', default='64,128,256')
  parser.add_argument('--conv_kernel', type=int, default=3)
  parser.add_argument('--skip_kernel', type=int, default=1)
  parser.add_argument('--batch_size', type=int, default=128)
  parser.add_argument('--warmup_steps', type=int, default=2)
  args = parser.parse_args()

  model = ResNet([int(b) for b in args.blocks.split(',')],
                 [int(c) for c in args.channels.split(',')], args.conv_kernel, args.skip_kernel)
  memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
  model = model.to(memory_format=memory_format).train()
  optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
  images = torch.randn(args.batch_size, 3, 32, 32).to(memory_format=memory_format)
  labels = torch.randint(0, 10, (args.batch_size,))

  def step():
    optimizer.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss

  if args.compile:
    step = torch.compile(step)
  serve(lambda: step().item(), args.warmup_steps)


if __name__ == '__main__':
  main()
