"""Built-in checks against the real world (Alembic, PostgreSQL, DSNs, git, files)."""
