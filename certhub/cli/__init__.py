"""The `certhub` command line.

Each command's module is imported only when that command runs: importing
them all (the server app, SQLAlchemy, FastAPI, the font tools) cost every
call about 3 s of CPU, `certhub verify --help` included. The table below
names each command's module and its one-line help, so `certhub --help`
lists them without importing any.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from certhub.cli.errors import describe_error

# name: (module:attribute, one-line help). A Typer attribute is a command
# group, a function a single command.
_COMMANDS: dict[str, tuple[str, str]] = {
    "db": ("certhub.cli.db_cmd:app", "Database schema (Alembic migrations)."),
    "catalog": ("certhub.cli.catalog_cmd:app", "The catalog: departments, licence types, data items, matters."),
    "clients": ("certhub.cli.clients_cmd:app", "API clients of departments' systems (OAuth 2.0 client credentials)."),
    "seal": ("certhub.cli.seal:app", "Electronic seals"),
    "signing": ("certhub.cli.signing_cmd:app", "Signing anchors: trust-root key, seal maker, trust list."),
    "audit": ("certhub.cli.audit:app", "Authorized-use log audit"),
    "witness": ("certhub.cli.witness_cmd:app",
                "An independent witness that cosigns consistent checkpoints (C2SP tlog-witness)."),
    "licences": ("certhub.cli.licences_cmd:app", "E-licences (电子证照): expiry reminders, the expiry job, disputes."),
    "webhooks": ("certhub.cli.webhooks_cmd:app",
                 "Push subscriptions: dispatch licence events and deliver signed webhooks."),
    "registries": ("certhub.cli.registries_cmd:app", "Recognised registries (跨省互认): their trust lists."),
    "serve": ("certhub.cli.serve_cmd:serve", "Serve the API from settings only (CERTHUB_* variables); no demo data."),
    "demo": ("certhub.cli.serve_cmd:demo", "Create or upgrade an embedded database, load the demo catalog, serve it."),
    "verify": ("certhub.cli.verify_cmd:verify", "Check a licence QR (EL1), an EU DCC (HC1) or an OFD's 签章 offline."),
}


def _load(name: str) -> TyperCommand | TyperGroup:
    module_name, attribute = _COMMANDS[name][0].split(":")
    module = importlib.import_module(module_name)
    target = getattr(module, attribute)
    if name == "licences":
        # The bulk issue and import commands live in their own module.
        importlib.import_module("certhub.cli.imports_cmd").register(target)
    # Registered on a group of its own exactly as on the root, so a command group
    # with one command (`webhooks run`) stays a group.
    holder = typer.Typer()
    holder.callback()(_no_options)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
    return typer.main.get_command(holder).commands[name]


def _no_options() -> None:
    pass


class _LazyGroup(TyperGroup):
    """Loads a command's module when the command is resolved; turns the
    errors users can fix into one line (`certhub.cli.errors`)."""

    _listing = False

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: typer.Context, cmd_name: str) -> TyperCommand | TyperGroup | None:
        if cmd_name not in _COMMANDS:
            return None
        if self._listing and cmd_name not in self.commands:
            # Help for the whole CLI needs the one-line help only.
            text = _COMMANDS[cmd_name][1]
            return TyperCommand(cmd_name, help=text, short_help=text)
        if cmd_name not in self.commands:
            self.commands[cmd_name] = _load(cmd_name)
        return self.commands[cmd_name]

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.TyperException, typer.Exit, typer.Abort):  # usage errors, --help, exit statuses
            raise
        except Exception as exc:
            described = describe_error(exc)
            if described is None:
                raise
            message, code = described
            typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
            raise typer.Exit(code) from None


app = typer.Typer(
    cls=_LazyGroup,
    help="certhub: e-licence registry and data-sharing exchange hub.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _certhub() -> None:
    """certhub: e-licence registry and data-sharing exchange hub."""


def main() -> None:
    app()
