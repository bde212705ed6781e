"""A session on disk: its events, the pure fold into state, the store and the lock."""
