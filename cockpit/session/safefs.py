"""Files in places the cockpit does not own, never trusted by name (docs/architecture.md,
invariant 12): a file a runbook names is opened without following links and only if it is a
regular file; an output is written beside its name under a random one, then renamed into
place — never through a link. Standard library only: the supervisor uses it.

What is trusted: the working directory as the operator chose it, resolved once (a link on
its own path — macOS's /tmp — is theirs). What is not: every component the runbook names
below the deepest folder that path shares with the resolved working directory, so
`../tmp/x.log` goes up from where the working directory really is and walks `tmp`, then
`x.log`, each opened relative to the one before (openat) with O_NOFOLLOW; the kind of file is
read from the opened descriptor (fstat), never looked up before the open. Where the platform
has no openat (Windows), each component is looked at, then opened: the same refusals, with
the race a look-then-open leaves."""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import stat
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cockpit.errors import CockpitError
from cockpit.session.modes import BINARY
from cockpit.session.replace import replace_file

# openat and its kin, O_NOFOLLOW: everywhere but Windows
AT = (hasattr(os, "O_NOFOLLOW") and hasattr(os, "O_DIRECTORY")
      and {os.open, os.mkdir, os.stat, os.rename, os.unlink} <= os.supports_dir_fd)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# A FIFO opened to be read must not wait for a writer; a terminal must not become ours.
_READ = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
    | _CLOEXEC | BINARY
_FOLDER = os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC
NO_LINKS = "files the runbook names are opened without following links"


class UnsafePath(CockpitError):
    """A path the cockpit will not read or write through (a link, no regular file)."""


class MissingPath(UnsafePath):
    """Nothing there (a file or a folder on its way)."""


def kind_of(mode: int) -> str:
    """What a file is, in words."""
    for test, words in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"),
                        (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                        (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return words
    return "not a regular file"


@dataclass(frozen=True)
class Beneath:
    """A runbook's path as the trusted folder and the components walked below it."""

    base: Path
    parts: tuple[str, ...]

    @property
    def path(self) -> Path:
        return self.base.joinpath(*self.parts)

    def at(self, count: int) -> Path:
        """The path of the first `count` components: what a message names."""
        return self.base.joinpath(*self.parts[:count])


def beneath(workdir: Path, target: Path) -> Beneath:
    """`target` (a runbook path resolved from `workdir` as `runbook.paths.resolve` does)
    below the deepest folder it shares with the working directory resolved once. A path
    written from the working directory goes on from where that folder really is (its `..`
    walked as the OS walks it); any other (absolute in the runbook) is taken as written."""
    real = Path(os.path.realpath(workdir))
    depth = len(workdir.parts)
    if target.parts[:depth] == workdir.parts:
        physical = Path(os.path.normpath(real.joinpath(*target.parts[depth:])))
    else:
        physical = Path(os.path.normpath(target))
    try:
        common = Path(os.path.commonpath([real, physical]))
    except ValueError:  # another drive (Windows): nothing of it is shared
        common = Path(physical.anchor)
    return Beneath(common, physical.relative_to(common).parts)


def _why(dir_fd: int, name: str, where: Path, exc: OSError) -> UnsafePath:
    """The refusal of `name` (in the folder `dir_fd`) that could not be opened, in words;
    the look after the failed open only words the message, it decides nothing."""
    if exc.errno == errno.ENOENT:
        return MissingPath(f"{where}: no such file")
    try:
        found = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return UnsafePath(f"{where}: cannot be opened ({exc.strerror})")
    if stat.S_ISLNK(found.st_mode):
        return UnsafePath(f"{where}: is a symbolic link; {NO_LINKS} (name the real path, or "
                          "remove the link)")
    if stat.S_ISREG(found.st_mode):
        return UnsafePath(f"{where}: cannot be opened ({exc.strerror})")
    return UnsafePath(f"{where}: is {kind_of(found.st_mode)}, not a regular file")


def _open_folders(where: Beneath, count: int, create: bool) -> int:
    """A descriptor of the folder the first `count` components name, each opened below the
    one before without following a link (made, when `create`, as the user's umask says)."""
    try:
        fd = os.open(where.base, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    except FileNotFoundError:
        raise MissingPath(f"{where.base}: no such folder") from None
    try:
        for index, name in enumerate(where.parts[:count], start=1):
            try:
                inner = os.open(name, _FOLDER, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise MissingPath(f"{where.at(index)}: no such folder") from None
                with suppress(FileExistsError):  # made meanwhile: opened as any other
                    os.mkdir(name, 0o777, dir_fd=fd)
                try:
                    inner = os.open(name, _FOLDER, dir_fd=fd)
                except OSError as exc:
                    raise _why(fd, name, where.at(index), exc) from None
            except OSError as exc:
                raise _why(fd, name, where.at(index), exc) from None
            os.close(fd)
            fd = inner
        return fd
    except BaseException:
        os.close(fd)
        raise


def _looked_at(where: Beneath, count: int, create: bool) -> None:
    """Without openat: each folder on the way looked at (lstat) before it is used."""
    for index in range(1, count + 1):
        path = where.at(index)
        try:
            found = os.lstat(path)
        except FileNotFoundError:
            if not create:
                raise MissingPath(f"{path}: no such folder") from None
            with suppress(FileExistsError):
                os.mkdir(path)
            found = os.lstat(path)
        if stat.S_ISLNK(found.st_mode) or getattr(found, "st_file_attributes", 0) & 0x400:
            raise UnsafePath(f"{path}: is a symbolic link or junction; {NO_LINKS}")
        if not stat.S_ISDIR(found.st_mode):
            raise UnsafePath(f"{path}: is {kind_of(found.st_mode)}, not a folder")


def _regular(fd: int, where: Path) -> int:
    found = os.fstat(fd)
    if not stat.S_ISREG(found.st_mode):
        os.close(fd)
        raise UnsafePath(f"{where}: is {kind_of(found.st_mode)}, not a regular file")
    if found.st_nlink > 1:  # another name for a file its maker may not read (no link rule)
        os.close(fd)
        raise UnsafePath(f"{where}: has {found.st_nlink} names (hard links); a file a "
                         "runbook names must have one (keep a copy there instead)")
    return fd


def open_named(workdir: Path, target: Path) -> int:
    """A descriptor to read the regular file a runbook names at `target`; UnsafePath (with
    the path and why) for a link anywhere below the trusted folder, a FIFO, a device, a
    folder, a socket; MissingPath when nothing is there."""
    where = beneath(workdir, target)
    if not where.parts:
        raise UnsafePath(f"{target}: is the working directory itself, not a file")
    last = len(where.parts)
    if not AT:
        _looked_at(where, last - 1, create=False)
        _looked_at_file(where.path)
        try:
            return _regular(os.open(where.path, _READ), where.path)
        except FileNotFoundError:
            raise MissingPath(f"{where.path}: no such file") from None
    folder = _open_folders(where, last - 1, create=False)
    try:
        fd = os.open(where.parts[-1], _READ, dir_fd=folder)
    except OSError as exc:
        raise _why(folder, where.parts[-1], where.path, exc) from None
    finally:
        os.close(folder)
    return _regular(fd, where.path)


def _looked_at_file(path: Path) -> None:
    with suppress(FileNotFoundError):
        if os.path.islink(path):
            raise UnsafePath(f"{path}: is a symbolic link; {NO_LINKS}")


def read_named(workdir: Path, target: Path) -> bytes:
    """The bytes of the regular file a runbook names, read from the descriptor opened
    without following links (never by its name again)."""
    with os.fdopen(open_named(workdir, target), "rb") as handle:
        return handle.read()


def create_named(workdir: Path, target: Path, mode: int) -> int:
    """A new file at `target` (a runbook's path below `workdir`), opened to append: the
    folders on its way made as needed, none of them — nor the file — through a link; it
    must not exist (FileExistsError)."""
    where = beneath(workdir, target)
    if not where.parts:
        raise UnsafePath(f"{target}: is the working directory itself, not a file")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | _NOFOLLOW | _CLOEXEC | BINARY
    if not AT:
        _looked_at(where, len(where.parts) - 1, create=True)
        return os.open(where.path, flags, mode)
    folder = _open_folders(where, len(where.parts) - 1, create=True)
    try:
        return os.open(where.parts[-1], flags, mode, dir_fd=folder)
    except FileExistsError:
        raise
    except OSError as exc:
        raise _why(folder, where.parts[-1], where.path, exc) from None
    finally:
        os.close(folder)


def move_named(workdir: Path, target: Path, into: Callable[[], Path],
               mode: int) -> tuple[str, int] | None:
    """Move the regular file a runbook names at `target` to the path `into()` makes ready
    (asked only when there is one; a new file, `mode` if it has to be copied across file
    systems); returns its sha256 and size, read from the file opened without following
    links — None when nothing is there. UnsafePath for a link on the way or anything but a
    regular file there: nothing is moved then."""
    where = beneath(workdir, target)
    if not AT:
        return _move_looked_at(where, into, mode)
    try:
        folder = _open_folders(where, len(where.parts) - 1, create=False)
    except MissingPath:
        return None
    name = where.parts[-1]
    try:
        try:
            fd = os.open(name, _READ, dir_fd=folder)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _why(folder, name, where.path, exc) from None
        with os.fdopen(_regular(fd, where.path), "rb") as source:
            found = _digest(source)
            to = into()
            try:  # renameat moves the name; it must still be the file read
                os.rename(name, to, src_dir_fd=folder)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                _copy_out(source, to, mode)  # another file system: from the opened file
                os.unlink(name, dir_fd=folder)
                return found
            if os.lstat(to).st_ino != os.fstat(source.fileno()).st_ino:
                raise UnsafePath(f"{where.path}: was replaced while it was being moved "
                                 f"(what replaced it is in {to}); run the step again")
            _tighten(source.fileno(), mode)
        return found
    finally:
        os.close(folder)


def _tighten(fd: int, mode: int) -> None:
    """A file moved in is no more readable than one written there (best effort: another
    account's file keeps its mode, which it had where it was found)."""
    with suppress(OSError, NotImplementedError):
        os.fchmod(fd, stat.S_IMODE(os.fstat(fd).st_mode) & mode)


def _digest(source: BinaryIO) -> tuple[str, int]:
    """sha256 and size of an opened file, read from its start (left at its start)."""
    digest, size = hashlib.sha256(), 0
    source.seek(0)
    while chunk := source.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    source.seek(0)
    return digest.hexdigest(), size


def _move_looked_at(where: Beneath, into: Callable[[], Path],
                    mode: int) -> tuple[str, int] | None:
    try:
        _looked_at(where, len(where.parts) - 1, create=False)
        found = os.lstat(where.path)
    except (MissingPath, FileNotFoundError):
        return None
    if stat.S_ISLNK(found.st_mode) or not stat.S_ISREG(found.st_mode):
        raise UnsafePath(f"{where.path}: is {kind_of(found.st_mode)}, not a regular file")
    with open(where.path, "rb") as source:
        found_digest = _digest(source)
        _copy_out(source, into(), mode)
    os.unlink(where.path)
    return found_digest


def _copy_out(source: BinaryIO, to: Path, mode: int) -> None:
    fd = os.open(to, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | BINARY, mode)
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(1 << 20):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())


# ---------------------------------------------------------------------------- outputs


def check_output(output: Path, force: bool) -> None:
    """Refuse, before anything is made, an output that cannot be written safely: a link
    there (dangling or not, --force or not), something other than a file, an existing file
    without `force`, a folder that is not there."""
    try:
        found = os.lstat(output)
    except FileNotFoundError:
        found = None
    if found is not None and stat.S_ISLNK(found.st_mode):
        raise UnsafePath(f"{output}: is a symbolic link; an output is never written through "
                         "one, --force or not — remove the link or name another file")
    if found is not None and not stat.S_ISREG(found.st_mode):
        raise UnsafePath(f"{output}: is {kind_of(found.st_mode)}, not a file; name the file "
                         "to write")
    if found is not None and not force:
        raise UnsafePath(f"{output}: already exists; choose another name or add --force")
    parent = output.parent
    if not parent.is_dir():
        raise UnsafePath(f"{parent}: no such folder; make it first (mkdir -p {parent}) or "
                         "write elsewhere")


def write_output(output: Path, write: Callable[[BinaryIO], object], *, force: bool = False,
                 mode: int = 0o666) -> None:
    """Write an output safely: checked as `check_output` does, written by `write` into a
    new file beside it under a random name (created exclusively, never through a link),
    fsynced and renamed into place; on any failure no temporary file is left, and a refusal
    (a folder not writable; on Windows, the output held open) is said with its fix."""
    try:
        _write_output(output, write, force, mode)
    except PermissionError as exc:
        named = Path(exc.filename) if exc.filename else None
        if named is not None and output.parent not in (named, named.parent):
            raise  # a file `write` was reading, not the output: not ours to word
        from cockpit.session.store import write_fix  # here: the supervisor imports safefs

        raise CockpitError(f"{output}: cannot be written ({exc.strerror or exc}); "
                           f"{write_fix(exc)}") from None


def _write_output(output: Path, write: Callable[[BinaryIO], object], force: bool,
                  mode: int) -> None:
    check_output(output, force)
    folder = output.parent
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | BINARY
    dir_fd = os.open(folder, os.O_RDONLY | _DIRECTORY | _CLOEXEC) if AT else None
    try:
        temp, fd = _new_temp(output.name, folder, dir_fd, flags, mode)
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            check_output(output, force)  # anything new there meanwhile is refused too
            if dir_fd is None:  # Windows: a reader holding the output is waited out
                replace_file(folder / temp, output)
            elif not force and _linked_in(temp, output, dir_fd):
                os.unlink(temp, dir_fd=dir_fd)  # the output has its own name now
                os.fsync(dir_fd)
            else:  # the name is replaced, whatever it is now: nothing is written through
                os.rename(temp, output.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                os.fsync(dir_fd)
        except BaseException:
            with suppress(OSError):
                if dir_fd is None:
                    os.unlink(folder / temp)
                else:
                    os.unlink(temp, dir_fd=dir_fd)
            raise
    finally:
        if dir_fd is not None:
            os.close(dir_fd)


def _linked_in(temp: str, output: Path, dir_fd: int) -> bool:
    """The temporary file given the output's name only if that name is still free (a file
    that appeared since the check is refused, not replaced); False where the file system has
    no hard links (then the rename, after the check, must do)."""
    try:
        os.link(temp, output.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    except FileExistsError:
        raise UnsafePath(f"{output}: appeared while it was being written; choose another "
                         "name or add --force") from None
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            return False
        raise
    return True


def write_output_bytes(output: Path, data: bytes, *, force: bool = False,
                       mode: int = 0o666) -> None:
    write_output(output, lambda handle: handle.write(data), force=force, mode=mode)


def _new_temp(name: str, folder: Path, dir_fd: int | None, flags: int,
              mode: int) -> tuple[str, int]:
    for _ in range(100):
        temp = f".{name}.{secrets.token_hex(8)}.tmp"
        try:
            if dir_fd is None:
                return temp, os.open(folder / temp, flags | BINARY, mode)
            return temp, os.open(temp, flags | BINARY, mode, dir_fd=dir_fd)
        except FileExistsError:  # someone's file (or link) at a random name: another one
            continue
    raise UnsafePath(f"{folder}: no temporary file could be made beside the output")


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data`, readable by its owner alone, as an output is written (a
    link there is refused, never written through)."""
    write_output_bytes(path, data, force=True, mode=0o600)
