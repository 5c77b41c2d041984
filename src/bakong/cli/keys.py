"""`bakong keys`: create and inspect Ed25519 key files."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bakong.errors import BakongError

__all__ = ["keys"]


@click.group()
def keys() -> None:
    """Create and inspect Ed25519 key files (hex seed, mode 0600)."""


@keys.command("generate")
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True)
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
@click.option("--json", "as_json", is_flag=True)
def generate(out_path: Path, overwrite: bool, as_json: bool) -> None:
    """Generate a key and write it to OUT with permissions 0600."""
    from bakong.keystore import generate_key, write_key_file

    key = generate_key()
    try:
        write_key_file(out_path, key, overwrite=overwrite)
    except FileExistsError:
        raise click.ClickException(f"{out_path} exists; pass --overwrite to replace it") from None
    _print_public(out_path, key.public_key, as_json)


@keys.command("show")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def show(path: Path, as_json: bool) -> None:
    """Print the public key of the key file at PATH."""
    from bakong.keystore import read_key_file

    try:
        key = read_key_file(path)
    except BakongError as error:
        raise click.ClickException(str(error)) from None
    _print_public(path, key.public_key, as_json)


def _print_public(path: Path, public_key: bytes, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"path": str(path), "public_key": public_key.hex()}))
    else:
        click.echo(f"{path}: public key {public_key.hex()}")
