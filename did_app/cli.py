"""CLI commands of interfaces.md: seed-demo, create-user (more arrive with later issues)."""
import sys

import click

from did_app import audit
from did_app.auth import service
from did_app.errors import DomainError


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


def register(app) -> None:
    @app.cli.command("create-user")
    @click.argument("email")
    @click.option("--role", type=click.Choice(["admin", "operator", "viewer"]), required=True)
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
    @click.option("--name", "display_name", default=None, help="Display name (default: from the email).")
    def create_user(email, role, password_stdin, display_name):
        """Create a user; without --password-stdin a generated password is printed once."""

        password = sys.stdin.readline().rstrip("\n") if password_stdin else None
        name = display_name or email.split("@")[0]
        try:
            user, generated = service.create_user(audit.Actor(None, "cli", "cli"), email=email,
                                                  display_name=name, role=role, password=password)
        except DomainError as err:
            _fail(err.message)
        click.echo(f"Created {role} {user.email}.")
        if generated:
            click.echo(f"Password (shown once, must be changed at first sign-in): {generated}")

    @app.cli.command("seed-demo")
    @click.option("--numbers", "count", type=click.IntRange(1, 2_000_000), default=2000, show_default=True)
    @click.option("--seed", type=int, default=1, show_default=True)
    @click.option("--if-empty", is_flag=True, help="Do nothing (exit 0) when numbers already exist.")
    def seed_demo(count, seed, if_empty):
        """Fill an empty database with a realistic demo workspace."""
        # imported on use: demo's data and word lists stay out of the web workers' memory
        from did_app import demo

        try:  # the emptiness check runs inside the seeding transaction, so two at once cannot both seed
            summary = demo.seed_demo(count, seed)
        except demo.NotEmpty as err:
            if if_empty:
                click.echo("The database already holds numbers; seed-demo skipped.")
                return
            _fail(err.message)
        except DomainError as err:
            _fail(err.message)
        click.echo(summary)
