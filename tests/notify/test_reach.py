"""A destination as a company has it: HTTPS with an internal CA (`ca_file`), through the
proxy the environment names (`HTTPS_PROXY`, `NO_PROXY`)."""

from __future__ import annotations

from pathlib import Path

from cockpit.engine.notify.transport import post
from tests.engine.helpers import cockpit
from tests.notify.reach import proxy, tls_webhook
from tests.notify.worlds import TOKEN, notify_table, notify_world


def test_the_ca_file_is_what_the_certificate_is_checked_against(tmp_path: Path) -> None:
    with tls_webhook(tmp_path) as (base, ca, seen):
        trusted = post(f"{base}/hook/{TOKEN}", b"{}", 5, {}, ca)
        untrusted = post(f"{base}/hook/{TOKEN}", b"{}", 5, {})
    assert trusted.delivered and trusted.status == 200
    assert not untrusted.delivered and untrusted.detail.startswith("not reached: TLS: ")
    assert "self-signed" in untrusted.detail or "self signed" in untrusted.detail
    assert len(seen.received) == 1


def test_an_https_proxy_from_the_environment_is_used_and_no_proxy_bypasses_it(
        tmp_path: Path) -> None:
    with tls_webhook(tmp_path) as (base, ca, seen), proxy() as (via, asked):
        port = base.rsplit(":", 1)[1]
        through = post(f"{base}/hook/{TOKEN}", b"{}", 5, {"HTTPS_PROXY": via}, ca)
        assert asked == [f"CONNECT 127.0.0.1:{port}"]  # a tunnel: the proxy sees no path
        bypassed = post(f"{base}/hook/{TOKEN}", b"{}", 5,
                        {"https_proxy": via, "NO_PROXY": "localhost,127.0.0.1"}, ca)
        assert len(asked) == 1
        plain = post("http://127.0.0.1:9/hook/x", b"{}", 5, {"HTTP_PROXY": via})
    assert through.delivered and bypassed.delivered and plain.delivered
    assert len(seen.received) == 2 and asked[-1] == "POST http://127.0.0.1:9/hook/x"


def test_notify_test_reaches_it_through_the_runbook(tmp_path: Path) -> None:
    with tls_webhook(tmp_path) as (base, ca, seen), proxy() as (via, asked):
        runbook = notify_world(tmp_path, [notify_table(
            "internal", "webhook", url_env="HOOK_URL", ca_file="ca.pem")])
        (runbook.parent / "ca.pem").write_bytes(ca.read_bytes())
        done = cockpit("notify-test", str(runbook), env={
            "HOOK_URL": f"{base}/hook/{TOKEN}", "HTTPS_PROXY": via, "NO_PROXY": ""})
        missing = notify_world(tmp_path / "other", [notify_table(
            "internal", "webhook", url_env="HOOK_URL", ca_file="nowhere.pem")])
        refused = cockpit("notify-test", str(missing), env={"HOOK_URL": f"{base}/x/{TOKEN}"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "internal (webhook): delivered — HTTP 200 ok" in done.stdout
    assert len(asked) == 1 and asked[0].startswith("CONNECT ") and len(seen.received) == 1
    assert refused.returncode == 1 and "ca_file" in refused.stderr
    assert "Traceback" not in refused.stderr and TOKEN not in refused.stderr
