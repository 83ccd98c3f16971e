"""Errors raised for a user's mistake; the CLI prints them as one line and exits with code 2."""

from __future__ import annotations


class RootcastError(Exception):
    """Base class of every error caused by user input (data, catalog, config)."""


class DataContractError(RootcastError):
    """A panel, event file or geometry breaks the data contract."""


class CatalogError(RootcastError):
    """A feature or program catalog is malformed."""
