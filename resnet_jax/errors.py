"""The errors a run reports as one line, without a traceback; a leaf module, so any module can
raise them."""


class ConfigError(ValueError):
  """A mistake in the config, the flags or the data's location or layout: exit status 2."""


class InputError(ValueError):
  """Images or labels given to a trained model that it cannot take: exit status 2."""


class NonFiniteLoss(Exception):
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
