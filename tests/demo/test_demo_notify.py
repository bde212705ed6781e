"""`cockpit demo --headless --notify FILE`: the reference cutover on the embedded PostgreSQL,
its moments sent to local stand-ins for a webhook, Slack, Teams and a command."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.notify.servers import webhook
from tests.notify.test_deliver import moment_ids, notices, received_ids
from tests.notify.worlds import TOKEN, notify_table, url
from tests.run import cockpit

MOMENTS = {"gates", "phase", "behind", "retry", "hold", "halted", "countersign", "decision"}


def _demo(tmp_path: Path, *fault: str) -> tuple[Path, Counter[str], dict[str, Counter[str]],
                                                  list[dict]]:
    tables = tmp_path / "notify.toml"
    tables.write_text("\n".join([
        notify_table("hook", "webhook", url_env="HOOK_URL"),
        notify_table("slack", "slack", url_env="SLACK_URL"),
        notify_table("teams", "teams", url_env="TEAMS_URL", moments=["halted", "decision"]),
        notify_table("script", "command", command=f"cat >> {tmp_path}/told.jsonl; "
                     f"echo >> {tmp_path}/told.jsonl")]))
    session = tmp_path / "s"
    with webhook() as (base, seen):
        done = cockpit("demo", "--headless", *fault, "--notify", str(tables), "--session",
                       str(session), "--workspace", str(tmp_path / "w"), timeout=300, env={
                           "HOOK_URL": url(base, "hook"), "SLACK_URL": url(base, "slack"),
                           "TEAMS_URL": url(base, "teams")})
    assert TOKEN not in done.stdout + done.stderr
    told = [json.loads(line) for line in (tmp_path / "told.jsonl").read_text().splitlines()
            if line.strip()]
    got = {kind: received_ids(seen, kind) for kind in ("hook", "slack", "teams")}
    return session, Counter([done.returncode]), got, told


def test_the_demo_tells_every_moment_to_each_destination_once(tmp_path: Path) -> None:
    session, code, got, told = _demo(tmp_path)
    assert code == Counter([0])
    every = moment_ids(session, MOMENTS)
    kinds = {m["moment"] for m in told}
    assert {"gates", "phase", "decision"} <= kinds
    assert len(every) >= 11  # GO, P0..P4 started and finished, the decision
    assert got["hook"] == got["slack"] == Counter(every)
    assert Counter(m["id"] for m in told) == Counter(every)
    assert got["teams"] == Counter(moment_ids(session, {"halted", "decision"}))
    assert all(n["outcome"] == "delivered" for n in notices(session))
    assert cockpit("verify", str(session)).returncode == 0


@pytest.mark.slow
def test_the_halted_demo_says_its_cause_first(tmp_path: Path) -> None:
    session, code, got, told = _demo(tmp_path, "--fault", "duplicate-table")
    assert code == Counter([2])
    [halted] = [m for m in told if m["moment"] == "halted"]
    assert halted["title"].startswith("HALTED at step ")
    assert "DuplicateTable" in halted["title"] and "active_investments" in halted["title"]
    assert got["teams"] == Counter(moment_ids(session, {"halted", "decision"}))
    assert got["hook"] == Counter(moment_ids(session, MOMENTS))


@pytest.mark.slow
@pytest.mark.parametrize(("fault", "code", "kind", "title"), [
    ("lock-retry", 0, "retry", "RETRY: step "),
    ("hold-point", 3, "hold", "HOLD: step "),
])
def test_a_retry_and_a_hold_are_told(tmp_path: Path, fault: str, code: int, kind: str,
                                     title: str) -> None:
    session, codes, got, told = _demo(tmp_path, "--fault", fault)
    assert codes == Counter([code])
    said = [m for m in told if m["moment"] == kind]
    assert said and all(m["title"].startswith(title) for m in said)
    assert got["hook"] == Counter(moment_ids(session, MOMENTS))
