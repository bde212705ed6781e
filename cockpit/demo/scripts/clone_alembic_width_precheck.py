"""P1 precheck: the width of alembic_version.version_num against the longest revision id."""

import os

import psycopg
from alembic.config import Config
from alembic.script import ScriptDirectory

script = ScriptDirectory.from_config(Config("alembic.ini"))
longest = max((rev.revision for rev in script.walk_revisions()), key=len)
with psycopg.connect(os.environ["PG_DSN"]) as conn:
    width = conn.execute(
        "SELECT character_maximum_length FROM information_schema.columns "
        "WHERE table_name = 'alembic_version' AND column_name = 'version_num'").fetchone()[0]
print(f"alembic_version.version_num width: {width}")
print(f"longest revision id: {longest} ({len(longest)} characters)")
print("width correction REQUIRED" if width < len(longest) else "width sufficient")
