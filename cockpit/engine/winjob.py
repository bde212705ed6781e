"""A step's processes on Windows, held as a POSIX process group holds them: in a job object.

Windows has no process group that a signal reaches whole, and `cmd.exe /c python ...` leaves
the migration a grandchild that killing the shell would orphan, still running. So the
supervisor puts itself in a job of its own before it starts the step; every process the step
starts, and theirs, is born in the job (orphans included), and the job's member list — but
the supervisor — is the step's group: alive while any of it is, ended by ending each.
Imported on Windows only (ctypes' WinDLL).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from ctypes import wintypes

import psutil

_BASIC_PROCESS_ID_LIST = 3  # JOBOBJECTINFOCLASS: JobObjectBasicProcessIdList
_MOST = 4096  # members listed at most: a step starting more is not a migration


class _IdList(ctypes.Structure):
    _fields_ = [("assigned", wintypes.DWORD), ("listed", wintypes.DWORD),
                ("ids", ctypes.c_size_t * _MOST)]


class StepJob:
    """The job the supervisor is in, with the step it starts."""

    def __init__(self) -> None:
        kernel = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        kernel.CreateJobObjectW.restype = wintypes.HANDLE
        kernel.CreateJobObjectW.argtypes = [wintypes.LPVOID, wintypes.LPCWSTR]
        kernel.GetCurrentProcess.restype = wintypes.HANDLE
        kernel.AssignProcessToJobObject.argtypes = [wintypes.HANDLE, wintypes.HANDLE]
        kernel.QueryInformationJobObject.argtypes = [
            wintypes.HANDLE, ctypes.c_int, wintypes.LPVOID, wintypes.DWORD,
            ctypes.POINTER(wintypes.DWORD)]
        self._kernel = kernel
        self.handle = kernel.CreateJobObjectW(None, None)
        if not self.handle:
            raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined]
        if not kernel.AssignProcessToJobObject(self.handle, kernel.GetCurrentProcess()):
            raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined]

    def members(self) -> list[int]:
        """The live processes of the step: the job's, but the supervisor."""
        found = _IdList()
        if not self._kernel.QueryInformationJobObject(
                self.handle, _BASIC_PROCESS_ID_LIST, ctypes.byref(found),
                ctypes.sizeof(found), None):
            raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined]
        me = os.getpid()
        return [int(pid) for pid in found.ids[:found.listed] if pid != me]

    def terminate(self) -> list[int]:
        """End every process of the step (TerminateProcess); the pids it ended."""
        ended = []
        for pid in self.members():
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()
                ended.append(pid)
        return ended
