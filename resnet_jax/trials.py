"""A search's trials as the budget and the run folders see them, and the names in a search's
workdir, shared by `study` (which runs them) and `search_report` (which reads them).

A trial that a dead or stopped worker left is failed and retried as a new trial; the retry
inherits the user attribute `slot` (the number of the trial it retries), so it counts once in
the budget and trains in the same run folder, resuming its checkpoint.
"""

import os

PREFIX = 'trial-'  # Of every trial's run folder in the search's workdir.
JOURNAL = 'study.journal'  # The default storage of the study, in the search's workdir.


def slot(trial) -> int:
  """The trial's place in the budget: its own number, or a retry's original's."""
  return trial.user_attrs.get('slot', trial.number)


def run_dir(workdir: str, trial) -> str:
  """The folder the trial trains in: <workdir>/trial-NNNN, NNNN its slot."""
  return os.path.join(workdir, f'{PREFIX}{slot(trial):04d}')


def run_folders(workdir: str) -> set[str]:
  """The names of the trials' run folders in `workdir` (none if it does not exist yet)."""
  return ({name for name in os.listdir(workdir) if name.startswith(PREFIX)}
          if os.path.isdir(workdir) else set())


def refused(trial) -> bool:
  """Whether the trial was refused before training (a design over the budget, or one past the
  study's trial budget): it counts for nothing."""
  return 'refused' in trial.user_attrs


def slots_used(trials) -> set[int]:
  """The budget's trials: the slot of every trial that trained, trains or waits to."""
  return {slot(t) for t in trials if not refused(t)}
