"""Cutover Cockpit: a terminal cockpit for governed PostgreSQL/Alembic production cutovers."""

__version__ = "0.1.0"
