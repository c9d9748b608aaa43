"""``livelens access``: the policies of access keys, stored in the database (see livelens.api.authz)."""

from __future__ import annotations

import click

from livelens.api.authz import ROLES, Policy, store_policy, stored_policies
from livelens.config import Settings
from livelens.storage import open_storage


def _db(db: str | None) -> str:
    return db or Settings.load().db


@click.group()
def access() -> None:
    """Who may do what: each access key's role (admin, supervisor, ingest) and instances.

    Stored policies override those declared in the credentials file; a running
    server applies a change within a second.
    """


@access.command("list")
@click.option("--db", default=None,
              help="SQLite database file or PostgreSQL URL [default: $LIVELENS_DB or livelens.db].")
def list_policies(db: str | None) -> None:
    """Show the policies stored in the database."""
    storage = open_storage(_db(db))
    try:
        policies = stored_policies(storage)
    finally:
        storage.close()
    if not policies:
        click.echo("No stored policies (keys use their credentials-file policy, else admin over own instances).")
    for key, policy in sorted(policies.items()):
        click.echo(f"{key}\trole={policy.role}\tinstances={','.join(policy.instances)}")


@access.command("set")
@click.argument("access_key")
@click.option("--role", type=click.Choice(sorted(ROLES)), required=True, help="What the key may do.")
@click.option("--instances", default="own", show_default=True,
              help="Comma-separated: own (instances the key created), * (all) or instance ids.")
@click.option("--db", default=None,
              help="SQLite database file or PostgreSQL URL [default: $LIVELENS_DB or livelens.db].")
def set_policy(access_key: str, role: str, instances: str, db: str | None) -> None:
    """Give ACCESS_KEY a role over some instances."""
    try:
        policy = Policy.parse({"role": role, "instances": instances})
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    storage = open_storage(_db(db))
    try:
        store_policy(storage, access_key, policy)
    finally:
        storage.close()
    click.echo(f"{access_key}: role={policy.role} instances={','.join(policy.instances)}")


@access.command("remove")
@click.argument("access_key")
@click.option("--db", default=None,
              help="SQLite database file or PostgreSQL URL [default: $LIVELENS_DB or livelens.db].")
def remove_policy(access_key: str, db: str | None) -> None:
    """Remove ACCESS_KEY's stored policy (its credentials-file policy, if any, applies again)."""
    storage = open_storage(_db(db))
    try:
        store_policy(storage, access_key, None)
    finally:
        storage.close()
    click.echo(f"{access_key}: stored policy removed")
