"""The reviewer's read-only mirror of a session."""
