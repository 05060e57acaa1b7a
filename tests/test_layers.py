"""The import-linter contracts of pyproject.toml hold (engineering.md §1): areas import downward
only, views and jobs sit above services, rules below every area, and no area imports another
area's views. A broken contract fails the suite with import-linter's report of the chain."""
import logging
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

import did_app

ROOT = Path(__file__).resolve().parent.parent


def test_the_checked_package_is_this_worktrees():
    # grimp finds did_app through the import system: it must be the one under test
    assert Path(did_app.__file__).resolve().parent == ROOT / "did_app"


@pytest.fixture
def loggers_kept():
    """import-linter's CLI calls logging.config.dictConfig, which disables every logger that exists;
    a later test in the same worker (the scheduler's log lines) would then capture nothing."""
    loggers = [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    states = [(lg, lg.disabled) for lg in loggers]
    yield
    for lg, disabled in states:
        lg.disabled = disabled


def test_import_contracts_hold(capsys, loggers_kept):
    # no cache: a stale graph could keep a broken contract "kept"
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert code == 0, report
