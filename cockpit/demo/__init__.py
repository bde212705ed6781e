"""The rehearsal world: an embedded PostgreSQL, a demo backend, fault injection."""
