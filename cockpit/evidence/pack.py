"""`cockpit export`: a session as one archive for the change ticket — its events, snapshot,
approved runbook, step logs and records, captured inputs, manifest, decision record and the
filled checklist — with the same bytes every time for the same session; and the check of
such an archive by `cockpit verify PACK`, which reads it into a temporary folder itself.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import tempfile
import zlib
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from cockpit.errors import CockpitError
from cockpit.evidence.inventory import session_files
from cockpit.evidence.packread import unpack
from cockpit.evidence.report import REPORT_FORMAT, render_report
from cockpit.evidence.verify import PACK_ABOUT, Verification, verify_session
from cockpit.evidence.verify import PACK_REPORT as REPORT
from cockpit.session.modes import file_mode
from cockpit.session.reader import open_session
from cockpit.session.safefs import check_output, write_output


def export_pack(folder: Path, output: Path, force: bool = False) -> tuple[int, int]:
    """Write the archive; returns (files, bytes). Reproducible: sorted members, one time
    for all (the session's last event), no owner, fixed modes, no gzip name or time.
    Written safely (`safefs.write_output`), no more readable than the session folder."""
    view = open_session(folder)  # read-only, and a clear error for a folder that is none
    check_output(output, force)
    if output.resolve().is_relative_to(folder.resolve()):
        raise CockpitError(f"{output}: inside the session folder; write the pack elsewhere")
    stamp = int(datetime.fromisoformat(view.state.updated_at.replace("Z", "+00:00"))
                .timestamp()) if view.state.updated_at else 0
    top = view.state.session_id or folder.name
    members = session_files(folder)
    report = render_report(view.runbook, view.state, folder=folder).encode()

    def write(handle: BinaryIO) -> None:  # streamed: a step's log may be large
        with gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0,
                           compresslevel=9) as zipped, \
                tarfile.open(fileobj=zipped, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for relative in members:
                path = folder / relative
                with open(path, "rb") as source:
                    _add(tar, f"{top}/{relative.as_posix()}", source,
                         os.fstat(source.fileno()).st_size, stamp)
            _add(tar, f"{top}/{REPORT}", io.BytesIO(report), len(report), stamp)
            about = _about(REPORT_FORMAT)
            _add(tar, f"{top}/{PACK_ABOUT}", io.BytesIO(about), len(about), stamp)

    write_output(output, write, force=force, mode=file_mode(folder))
    return len(members) + 2, output.stat().st_size


def _add(tar: tarfile.TarFile, name: str, data: BinaryIO, size: int, stamp: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, stamp, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, data)


def verify_pack(pack: Path, allowed_signers: Path | None = None) -> Verification:
    """Verify an exported pack as its session: unpacked into a private temporary folder
    (never beside the pack), within limits (`packread`), checked, and removed. Messages name
    places in the pack."""
    with tempfile.TemporaryDirectory(prefix="cockpit-pack-") as temp:
        try:
            folder = unpack(pack, Path(temp))
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise CockpitError(f"{pack}: the archive itself is damaged or is no pack ({exc}); "
                               "nothing in it can be checked") from None
        result = verify_session(folder, contained=True, allowed_signers=allowed_signers)
        where = f"{pack}:"
        problems = [p.replace(str(folder), where) for p in result.problems]
        report_problems, report_notes = _report_check(folder, pack)
        return Verification(problems + report_problems,
                            [n.replace(str(folder), where) for n in result.notes]
                            + report_notes, result.summary, result.signed)


def _about(report_format: int) -> bytes:
    return json.dumps({"report_format": report_format}).encode()


def _report_check(folder: Path, pack: Path) -> tuple[list[str], list[str]]:
    """The pack's report.md is the session's report rendered at export: it must still be —
    when this cockpit renders reports as the exporting one did (packs say how, since
    pack.json); an older pack's report is only noted, its session's files being the
    evidence. Returns (problems, notes)."""
    try:
        view = open_session(folder)
        again = render_report(view.runbook, view.state, folder=folder).encode()
        held = (folder / REPORT).read_bytes()
        about = json.loads((folder / PACK_ABOUT).read_bytes()) \
            if (folder / PACK_ABOUT).is_file() else {}
    except (CockpitError, OSError, ValueError) as exc:
        return [f"{pack}: {REPORT} cannot be checked ({exc})"], []
    raw = (folder / PACK_ABOUT).read_bytes() if (folder / PACK_ABOUT).is_file() else None
    if raw is not None and (not isinstance(about, dict) or not isinstance(
            about.get("report_format"), int) or raw != _about(about["report_format"])):
        return [f"{pack}: member {folder.name}/{PACK_ABOUT} is not as export writes it "
                "(changed after export)"], []
    if raw is None and view.state.decision is not None and view.state.decision.pinned:
        return [f"{pack}: member {folder.name}/{PACK_ABOUT} is missing (every pack of a "
                "session decided since four eyes has it)"], []
    if held == again:
        return [], []
    said = f"{pack}: member {folder.name}/{REPORT} differs from the session's report"
    if isinstance(about, dict) and about.get("report_format") == REPORT_FORMAT:
        return [f"{said} (changed after export)"], []
    return [], [f"{said}: rendered by an older cockpit (the session's own files verify)"]
