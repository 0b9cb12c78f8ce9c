"""Sphinx configuration of the resnet_jax docs: MyST pages, the quickstart notebook through myst-nb
(rendered, not run), the API reference from docstrings, the configuration reference generated
from the config's rules (_ext/config_reference.py).

  pip install -e '.[docs]' && sphinx-build -W --keep-going -b html docs docs/_build/html
"""

import pathlib
import sys

DOCS = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(DOCS.parent), str(DOCS / '_ext')]  # The checkout's library and configs first.

project = 'resnet_jax'
author = 'resnet_jax authors'
copyright = '2026, resnet_jax authors'  # pylint: disable=redefined-builtin

extensions = [
    'myst_nb',  # MyST markdown pages and notebooks.
    'sphinx.ext.autodoc',
    'sphinx.ext.autosummary',
    'sphinx.ext.napoleon',  # Google-style docstrings.
    'sphinx.ext.viewcode',
    'config_reference',
]
source_suffix = {'.rst': 'restructuredtext', '.md': 'myst-nb', '.ipynb': 'myst-nb'}
# _generated/ holds pages that other pages include (the configuration reference) and the API
# pages autosummary writes; only the latter are documents of their own. (The search guide is
# searching.md: Sphinx's own search page would overwrite a page named `search`.)
exclude_patterns = ['_build', '_generated/*.md']
smartquotes = False  # Flags such as --config.num_epochs stay as typed.

myst_heading_anchors = 3  # [text](page.md#a-heading) links, as on GitHub.
nb_execution_mode = 'off'  # The notebook trains a model; the tests run it (tests/test_notebook.py).

autosummary_generate = True
autodoc_default_options = {'members': True, 'member-order': 'bysource'}
autodoc_typehints = 'description'
napoleon_google_docstring = True
napoleon_numpy_docstring = False
default_role = 'code'  # Docstrings quote names in single backticks.

html_theme = 'sphinx_book_theme'
html_title = 'resnet_jax'
html_theme_options = {'show_toc_level': 2}
