"""The error a user's mistake raises; a leaf module, so any module can raise it."""


class ConfigError(ValueError):
  """A mistake in the config, flags or data: reported as one line, without a traceback."""
