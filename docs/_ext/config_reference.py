"""Writes the configuration reference, `_generated/config_fields.md`, before each docs build.

One row per field of the default config: its default, what its rule in `resnet_jax.validation`
allows, and the comments beside it in the defaults' source. A comment block above a field is
its description, shared by the fields right below it that have no comment of their own; a
comment at the end of a line describes that field; one above a section describes the section.
"""

import ast
import inspect
import io
import pathlib
import tokenize

from resnet_jax import defaults, validation

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / '_generated' / 'config_fields.md'
_ESCAPED = set('\\*_[]<>|#')  # Backticks stay: the comments quote code with them.


def _escape(text: str) -> str:
  """Plain text as Markdown that shows it unchanged."""
  return ''.join('\\' + c if c in _ESCAPED else c for c in text)


def _dotted(node) -> str | None:
  """'model.pool' for the target `config.model.pool`; None for any other target."""
  parts = []
  while isinstance(node, ast.Attribute):
    parts.append(node.attr)
    node = node.value
  if isinstance(node, ast.Name) and node.id == 'config' and parts:
    return '.'.join(reversed(parts))
  return None


def comments(source: str) -> dict[str, str]:
  """The description of each field and section of the config built in `source`, by name."""
  whole_line, trailing = {}, {}  # Line number -> the text of its comment.
  for token in tokenize.generate_tokens(io.StringIO(source).readline):
    if token.type == tokenize.COMMENT:
      comments_of = whole_line if token.line.lstrip().startswith('#') else trailing
      comments_of[token.start[0]] = token.string.lstrip('#').strip()
  assignments = {node.lineno: node for node in ast.walk(ast.parse(source))
                 if isinstance(node, ast.Assign) and len(node.targets) == 1
                 and _dotted(node.targets[0])}
  descriptions = {}
  block = []  # The comment lines above the assignments that follow.
  fresh = False  # The next assignment is the first below the block.
  shared_by = None  # The section whose uncommented fields the block still describes.
  number = 0
  while number < len(source.splitlines()):
    number += 1
    if number in whole_line:
      block = block + [whole_line[number]] if fresh else [whole_line[number]]
      fresh, shared_by = True, None
    elif number in assignments:
      node = assignments[number]
      name = _dotted(node.targets[0])
      section = name.rpartition('.')[0]
      own = [trailing[n] for n in range(number, node.end_lineno + 1) if n in trailing]
      if fresh:
        text, shared_by = block + own, None if own else section
      elif shared_by == section and not own:
        text = block
      else:
        text, shared_by = own, None
      if ast.unparse(node.value).endswith('ConfigDict()'):  # A section, not a field.
        shared_by = None
      if text:
        descriptions[name] = ' '.join(text)
      fresh, number = False, node.end_lineno
    else:
      block, fresh, shared_by = [], False, None
  return descriptions


def _allowed(text: str) -> str:
  for start in ('must be ', 'expected '):
    if text.startswith(start):
      return text[len(start):]
  return text


def markdown() -> str:
  """The reference: a table per section of the config, in the order of the rules."""
  described = comments(inspect.getsource(defaults))
  sections = {}
  for name, value, allowed in validation.describe(defaults.get_config()):
    section = name.rpartition('.')[0]
    sections.setdefault(section, []).append((name, value, allowed))
  out = []
  for section, rows in sections.items():
    out += [f'(config-{section or "top"})=', f'## `config.{section}`' if section
            else '## `config` (top level)', '']
    if section in described:
      out += [_escape(described[section]), '']
    if section in validation.MODE_SECTIONS:
      out += [f'Checked by `--mode={section}` only.', '']
    out += ['| field | default | allowed | description |', '|---|---|---|---|']
    out += [f'| `{name}` | `{value!r}` | {_escape(_allowed(allowed))} | '
            f'{_escape(described.get(name, ""))} |' for name, value, allowed in rows]
    out.append('')
  return '\n'.join(out)


def write(app) -> None:
  del app  # Unused: the page depends on the library alone.
  OUTPUT.parent.mkdir(exist_ok=True)
  text = markdown()
  if not OUTPUT.exists() or OUTPUT.read_text() != text:  # Unchanged: no rebuild of the page.
    OUTPUT.write_text(text)


def setup(app):
  app.connect('builder-inited', write)
  return {'parallel_read_safe': True, 'parallel_write_safe': True}
