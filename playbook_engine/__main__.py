"""`python -m playbook_engine` runs the `playbook` command."""

from __future__ import annotations

from playbook_engine.cli.main import console

if __name__ == "__main__":
    console()
