"""`cockpit verify PACK` reads a pack within limits: a member larger than the session records
for it, or more than the temporary folder can hold, is refused by name before a byte of it
is written — a gzip bomb costs no disk."""

from __future__ import annotations

import gzip
import io
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.errors import CockpitError
from cockpit.evidence.pack import export_pack, verify_pack
from tests.engine.helpers import cockpit, ordinary_world, tmpfs


@pytest.fixture
def small_tmp(tmp_path: Path) -> Iterator[Path]:
    """A temporary folder of 8 MiB, where the pack is unpacked to be checked."""
    with tmpfs(tmp_path / "tmp", "8m") as disk:
        yield disk


def _rebuilt(pack: Path, out: Path, replace: dict[str, bytes]) -> Path:
    """`pack` again, with the named members' data replaced (honest headers) or added."""
    with tarfile.open(pack, "r:gz") as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]
    top = members[0][0].name.split("/", 1)[0]
    names = {m.name for m, _ in members}
    members += [(tarfile.TarInfo(f"{top}/{name}"), b"") for name in replace
                if f"{top}/{name}" not in names]
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=1) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for member, data in members:
            data = replace.get(member.name.split("/", 1)[1], data)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    out.write_bytes(buffer.getvalue())
    return out


def test_verify_refuses_a_pack_member_beyond_its_limit_before_writing_it(
        tmp_path: Path, small_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runbook = ordinary_world(tmp_path)
    session = tmp_path / "s"
    assert cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                   str(session)).returncode == 0
    pack = tmp_path / "s.tar.gz"
    export_pack(session, pack)
    monkeypatch.setattr(tempfile, "tempdir", str(small_tmp))  # where verify unpacks
    assert verify_pack(pack).problems == []  # the pack as exported fits there

    # a log that expands 1000x beyond what its session recorded for it (6 bytes)
    bomb = _rebuilt(pack, tmp_path / "bomb.tar.gz", {"steps/hello.1.log": b"\0" * (20 << 20)})
    assert bomb.stat().st_size < 200_000
    refused = cockpit("verify", str(bomb), env={"TMPDIR": str(small_tmp)})
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "steps/hello.1.log" in refused.stderr and "20,971,520" in refused.stderr
    assert "recorded" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    assert list(small_tmp.iterdir()) == []

    # a member no size is recorded for, larger than the temporary folder can hold
    extra = _rebuilt(pack, tmp_path / "extra.tar.gz", {"evidence/extra.bin": b"\0" * (64 << 20)})
    with pytest.raises(CockpitError, match=r"evidence/extra\.bin alone holds 67,108,864 .*"
                                           r"TMPDIR"):
        verify_pack(extra)
    assert list(small_tmp.iterdir()) == []

    # several such members, each within the limit, together beyond it
    monkeypatch.setattr("cockpit.evidence.packread.UNRECORDED_LIMIT", 40 << 20)
    many = _rebuilt(pack, tmp_path / "many.tar.gz",
                    {f"evidence/part{n}.bin": b"\0" * (15 << 20) for n in range(3)})
    with pytest.raises(CockpitError, match=r"without a recorded size hold 47,\d{3},\d{3} bytes "
                                           r"together"):
        verify_pack(many)
    assert list(small_tmp.iterdir()) == []
