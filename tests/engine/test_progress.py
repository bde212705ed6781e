"""An upgrade's progress, counted off from Alembic's `Running upgrade a -> b` lines by the
one log follower every view uses, against the path recorded when the step started."""

from __future__ import annotations

from pathlib import Path

from cockpit.session.progress import UpgradeProgress
from cockpit.session.state import SessionState, StepState
from cockpit.session.stepfollow import StepLogFollower
from cockpit.tui.runner import running_style

LINE = "INFO  [alembic.runtime.migration] Running upgrade {down} -> {rev}, {what}"


def test_revisions_are_counted_off_against_the_path() -> None:
    progress = UpgradeProgress(["0009b", "0020", "70a79686336c"])
    assert progress.text(0.0) == ""  # nothing started yet
    assert progress.feed(["INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.",
                          LINE.format(down="0009", rev="0009b", what="a branch")], 10.0) == []
    assert progress.text(14.0) == "revision 1 of 3 ▰▰▰▱▱▱▱▱▱▱ 0009b (0:04)"
    progress.feed([LINE.format(down="0023, 0009b", rev="70a79686336c", what="merge")], 20.0)
    assert progress.current == "70a79686336c" and progress.seen == ["0009b", "70a79686336c"]


def test_a_revision_off_the_path_is_flagged_the_moment_it_starts() -> None:
    progress = UpgradeProgress(["0020", "0021"])
    found = progress.feed([LINE.format(down="0020", rev="0024_hotfix", what="hotfix")], 1.0)
    assert found == ["0024_hotfix"] and progress.unexpected == ["0024_hotfix"]
    assert progress.text(1.0).endswith("· UNEXPECTED 0024_hotfix")
    # the running row turns red by the flag, before amber (past half its timeout)
    assert running_style(amber=True, surprised=bool(progress.unexpected)) == "bold red"
    assert running_style(amber=True, surprised=False) == "bold yellow"


def test_without_a_known_path_revisions_are_counted_without_a_total() -> None:
    progress = UpgradeProgress([])
    progress.feed([LINE.format(down="a", rev="b", what="x")], 0.0)
    assert progress.text(61.0) == "revision 1: b (1:01)" and progress.unexpected == []


def test_the_follower_counts_an_upgrade_as_its_log_grows(tmp_path: Path) -> None:
    (tmp_path / "steps").mkdir()
    log = tmp_path / "steps" / "up.1.log"
    log.write_text(LINE.format(down="r1", rev="r2", what="two") + "\n")
    state = SessionState(steps={"up": StepState(status="running", run="up.1",
                                                log="steps/up.1.log", path=["r2", "r3"])})
    follower = StepLogFollower(tmp_path)
    assert follower.attach(state) and follower.progress is not None
    follower.pump(state)
    assert follower.progress.seen == ["r2"]
    told = follower.news()  # what headless and the plain mirror print, once per revision
    assert len(told) == 1 and told[0].startswith("revision 1 of 2") and follower.news() == []
    with open(log, "a") as handle:
        handle.write(LINE.format(down="r2", rev="r3", what="three") + "\n")
    follower.pump(state)
    assert follower.progress.text(0.0).startswith("revision 2 of 2 ▰▰▰▰▰▰▰▰▰▰ r3")
    # a step that is no upgrade (no path recorded) has no progress
    state.steps["up"] = StepState(status="running", run="up.2", log="steps/up.1.log")
    assert follower.attach(state) and follower.progress is None


def test_every_revision_is_counted_though_the_pane_keeps_only_the_last_lines(
        tmp_path: Path) -> None:
    (tmp_path / "steps").mkdir()
    filler = "".join(f"SQL line {i}\n" for i in range(50))
    (tmp_path / "steps" / "up.1.log").write_text(
        LINE.format(down="r1", rev="r2", what="two") + "\n" + filler
        + LINE.format(down="r2", rev="r3", what="three") + "\n" + filler)
    state = SessionState(steps={"up": StepState(status="running", run="up.1",
                                                log="steps/up.1.log", path=["r2", "r3"])})
    follower = StepLogFollower(tmp_path)
    follower.attach(state)
    shown = follower.pump(state, keep=5)
    assert shown == [f"SQL line {i}" for i in range(45, 50)]
    assert follower.progress is not None and follower.progress.seen == ["r2", "r3"]


def test_the_radar_line_and_its_queue_sparkline(tmp_path: Path) -> None:
    from cockpit.session.radarview import radar_text, sparkline

    assert sparkline([0, 0]) == "▁▁" and sparkline([0, 4, 8]) == "▁▅█"
    series = tmp_path / "up.1.radar.jsonl"
    assert radar_text(series) == ""  # no watcher yet
    samples = [{"sessions": [{"wait_event_type": "Lock", "wait_event": "relation"}],
                "waiting": n, "oldest_wait_s": n / 2, "blockers": [4242], "progress": []}
               for n in (0, 3, 6)]
    series.write_text("".join(__import__("json").dumps(s) + "\n" for s in samples) + '{"tor')
    assert radar_text(series) == ("radar: ▁▅█ 6 waiting behind, oldest 3.0 s · waits on "
                                  "Lock/relation (blocked by 4242)")
    building = {"sessions": [{"wait_event_type": None}], "waiting": 0, "oldest_wait_s": 0.0,
                "progress": [{"kind": "create_index", "phase": "building index: scanning table",
                              "pct": 20.3}]}
    series.write_text(__import__("json").dumps(building) + "\n")
    assert radar_text(series) == ("radar: ▁ 0 waiting behind, oldest 0.0 s · create_index 20% "
                                  "(building index: scanning table) · running")


def test_revisions_started_in_one_read_are_each_told(tmp_path: Path) -> None:
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "up.1.log").write_text("".join(
        LINE.format(down=f"r{i}", rev=f"r{i + 1}", what="x") + "\n" for i in range(1, 4)))
    state = SessionState(steps={"up": StepState(status="running", run="up.1",
                                                log="steps/up.1.log", path=["r2", "r3", "r4"])})
    follower = StepLogFollower(tmp_path)
    follower.attach(state)
    follower.pump(state)
    told = follower.news()
    assert [line.split(" ▰")[0] for line in told] == [
        "revision 1 of 3", "revision 2 of 3", "revision 3 of 3"]
    assert [line.split()[-2] for line in told] == ["r2", "r3", "r4"] and follower.news() == []
