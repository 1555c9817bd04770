"""Entry point: `chipkit` and its subcommands."""

from __future__ import annotations

import click

from chipkit import __version__
from chipkit_cli.cases import register as register_cases
from chipkit_cli.keys import keys, revoke, seal, verify
from chipkit_cli.plates import plates
from chipkit_cli.scan import scan
from chipkit_cli.serve import households, serve
from chipkit_cli.users import users


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="chipkit")
def cli() -> None:
    """chipkit: secure door plates for village grid management.

    \b
    Typical flow:
      chipkit keys init KEYS                      create an issuing keyring
      chipkit plates households.csv --keys KEYS --out OUT   print plates
      chipkit keys export-verifier KEYS bundle.json         for scanning devices
      chipkit scan photo.jpg --keys bundle.json             read plates from photos
      chipkit verify --keys bundle.json TOKEN               check one chip

    Exit codes: 0 success, 1 a negative answer (invalid chip, rejected rows), 2 usage or
    input error. Docs: README.md and docs/ in the source tree.
    """


cli.add_command(keys)
cli.add_command(seal)
cli.add_command(verify)
cli.add_command(revoke)

# --- subcommands ---
cli.add_command(plates)
cli.add_command(scan)
register_cases(cli)  # cases, visits, notices
cli.add_command(serve)
cli.add_command(users)
cli.add_command(households)
# --- end subcommands ---


if __name__ == "__main__":  # pragma: no cover
    cli()
