"""The errors a run reports as one line, without a traceback; a leaf module, so any module can
raise them."""

import re


class _Error(Exception):
  """A message in the library's words, which may name `arguments`: the caller's arguments or
  config fields (`workdir`, `config.data.dir`), which the command line gives as flags.

  Such a message is a %-template with its `values` apart (`ConfigError('workdir=%s is ...',
  workdir, arguments=('workdir',))`), so that no value (a path, another library's words) is read
  as a name.
  """

  def __init__(self, message: str, *values, arguments: tuple[str, ...] = ()):
    super().__init__(message % values if values else message)
    self.template, self.values, self.arguments = message, values, arguments

  def command_line(self) -> str:
    """The message as the command line says it: each argument as its flag (`--workdir`) where it
    stands as a word of its own, after the start, a space or '(' and before the end, a space or
    one of '=,;:)'."""
    template = self.template
    for name in self.arguments:
      template = re.sub(rf'(?<![^\s(]){re.escape(name)}(?=[\s=,;:)]|$)', f'--{name}', template)
    return template % self.values if self.values else template


class ConfigError(_Error, ValueError):
  """A mistake in the config, the flags or the data's location or layout: exit status 2."""


class InputError(_Error, ValueError):
  """Images or labels given to a trained model that it cannot take: exit status 2."""


class NonFiniteLoss(_Error):
  """The loss became NaN or infinite; the run stopped without saving: exit status 1."""


def flag_error_message(error: Exception, config_file: str | None) -> str:
  """A user's mistake on the command line (a bad flag, an unknown config field, a value of the
  wrong type, a config file that fails to load) as one line. `config_file`: what --config got."""
  while error.args and isinstance(error.args[0], Exception):
    error = error.args[0]  # ml_collections wraps the useful message in other exceptions.
  message = str(error.args[0] if error.args else error)
  if 'Traceback (most recent call last)' in message:  # An error raised by get_config().
    message = message.strip().splitlines()[-1]
  message = ' '.join(message.split())
  if isinstance(error, AttributeError) and message.endswith("has no attribute 'get_config'"):
    return (f'{config_file} has no get_config(); --config takes a config file such as '
            'configs/resnet24.py')
  if isinstance(error, (KeyError, AttributeError)):
    return f'unknown config field {message}'
  return message
