"""The `cockpit` command line, as Alembic's: each command a plain function of keyword
arguments returning its exit code (`from cockpit.cli.sessions import resume;
resume(folder=..., headless=True)`), and a parser built from one table that calls them."""

from cockpit.cli.dispatch import main
from cockpit.cli.parser import build_parser

__all__ = ["build_parser", "main"]
