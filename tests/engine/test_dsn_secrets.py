"""A DSN's password in each form libpq takes — a URL, key=value pairs with libpq's quoting,
a service in the service file, PGPASSWORD — is found for redaction and never shown; the
setup checks and the probes' connections read key=value pairs as libpq does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cockpit.engine.setup import check_setup_item, environment_secrets, masked
from cockpit.probes.db import connect, rows
from cockpit.runbook.model import EnvVar
from tests.conftest import REPO

QUOTED = "host=db.example port=5432 user=app password='it\\'s a \\\\ pass' dbname=orders"
SERVICES = """
# the team's services
[orders]
host=db.example
port=5432
user=app
dbname=orders
password=Svc-S3cret-orders

[reports]
password = Svc-S3cret-reports
"""


def _services(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "pg_service.conf"
    path.write_text(SERVICES)
    return {"PGSERVICEFILE": str(path)}


def test_a_key_value_dsn_is_shown_with_its_password_masked() -> None:
    assert masked("host=db user=app password=Kv-S3cret-xyz dbname=orders sslmode=require") \
        == "user=app password=*** dbname=orders host=db sslmode=require"
    assert masked(QUOTED) == "user=app password=*** dbname=orders host=db.example port=5432"
    assert masked("postgresql://app:Kv%2FS3cret@db/orders") == "postgresql://app:***@db/orders"
    # libpq takes a URL's password as a query parameter too; the rest is kept as written
    assert masked("postgresql://app@db/orders?sslmode=require&password=Kv-S3cret") \
        == "postgresql://app@db/orders?sslmode=require&password=***"
    assert masked("postgresql://db/orders?pass%77ord=Kv-S3cret") == "postgresql://db/orders?password=***"
    assert masked("postgresql://db/orders?options=-c%20a%3Db") == "postgresql://db/orders?options=-c%20a%3Db"
    # what does not parse cannot be shown safely at all
    assert masked("host=db password='never closed") == "***"


def test_environment_secrets_reads_key_value_dsns_with_libpq_quoting() -> None:
    env = {"DATABASE_URL": QUOTED,
           "PLAIN": "host=db user=app password=Kv-S3cret-xyz dbname=orders",
           "LS_COLORS": "rs=0:di=01;34:ln=01;36", "NOTE": "password rotation is due"}
    assert environment_secrets(env) == ["it's a \\ pass", "Kv-S3cret-xyz"]


def test_environment_secrets_reads_the_service_files_passwords(tmp_path: Path) -> None:
    """A DSN naming a service (or PGSERVICE) takes its password from the service file: each
    password there is a secret (a step may name any of its services)."""
    env = {**_services(tmp_path), "DATABASE_URL": "service=orders", "PGSERVICE": "reports",
           "PGPASSWORD": "Env-S3cret"}
    found = environment_secrets(env)
    assert set(found) == {"Env-S3cret", "Svc-S3cret-orders", "Svc-S3cret-reports"}


def test_the_setup_check_reads_a_key_value_dsn_and_records_it_masked(tmp_path: Path) -> None:
    item = EnvVar(kind="env", id="dsn", text="`DATABASE_URL` names `orders`", name="DATABASE_URL",
                  template="postgresql://app:<PASSWORD>@db.example:5432/orders?sslmode=require",
                  database="orders", require={"sslmode": "require"})
    dsn = "host=db.example port=5432 user=app password='Kv S3cret' dbname=orders sslmode=require"
    ok, observed, detail = check_setup_item(item, tmp_path, {"DATABASE_URL": dsn}, "<PASSWORD>")
    assert (ok, detail) == (True, "matches the template")
    assert observed == ("user=app password=*** dbname=orders host=db.example port=5432 "
                        "sslmode=require")
    wrong = dsn.replace("db.example", "db.other").replace(" sslmode=require", "")
    ok, observed, detail = check_setup_item(item, tmp_path, {"DATABASE_URL": wrong},
                                            "<PASSWORD>")
    assert not ok and "Kv S3cret" not in observed
    assert detail == "host is 'db.other', expected 'db.example'; sslmode='require' missing"
    # a service fills in what the pairs leave out, as libpq does
    env = {**_services(tmp_path), "DATABASE_URL": "service=orders sslmode=require"}
    ok, observed, detail = check_setup_item(item, tmp_path, env, "<PASSWORD>")
    assert (ok, detail, observed) == (True, "matches the template",
                                      "service=orders sslmode=require")


def test_a_probe_connects_with_key_value_pairs(pg_db: str) -> None:
    """The lock radar and the halt diagnostics connect with the DSN the steps use: libpq's
    key=value pairs are as good as a URL (the socket's path included)."""
    with connect({"DATABASE_URL": pg_db}) as conn:
        assert rows(conn, "SELECT current_database() AS db")[0]["db"] in pg_db


def test_an_internal_error_quoting_a_key_value_dsn_shows_no_part_of_its_password() -> None:
    """The last guard, at the command line's edge: libpq's quoted value is masked whole,
    and a key=value DSN in the environment is known for what it holds."""
    probe = (
        "import sys\n"
        "import cockpit.cli as cli\n"
        "import cockpit.cli.runbooks as runbooks\n"
        "def boom(**options):\n"
        "    raise RuntimeError(\"connect to host=db password='it\\\\'s a pass' failed; \"\n"
        "                       'then user=app password=Kv-S3cret-xyz')\n"
        "runbooks.render = boom\n"
        "sys.exit(cli.main(['render', 'x.toml']))\n"
    )
    env = {**os.environ, "DATABASE_URL": "host=db user=app password=Kv-S3cret-xyz dbname=x"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=REPO, env=env)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "a pass" not in out.stderr and "Kv-S3cret" not in out.stderr
    assert "connect to host=db password=*** failed" in out.stderr
