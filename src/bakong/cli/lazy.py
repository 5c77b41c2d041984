"""A click group whose subcommands are imported only when invoked.

Each entry maps a command name to `(module, attribute, one-line help)`, so listing commands
imports nothing and a subcommand's heavy dependencies load only when it runs.
"""

from __future__ import annotations

import importlib

import click

__all__ = ["LazyGroup"]


class LazyGroup(click.Group):
    """A group of subcommands named in `entries` and imported on first use."""

    def __init__(self, *args: object, entries: dict[str, tuple[str, str, str]], **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.entries = entries

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.entries)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = self.entries.get(cmd_name)
        if entry is None:
            return None
        module_name, attribute, _ = entry
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.entries[name][2]) for name in sorted(self.entries)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
