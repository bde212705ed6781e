/* `git.exe` for CI under Wine only: runs `..\python\python.exe git_standin.py ARGS` (the Wine
 * home's interpreter and the script beside this program) with this process's standard
 * handles, and exits with its code.
 *
 * The cockpit's gates run `git -C REPO ...`. No Git for Windows comes from the package
 * registries, and Wine gives a Windows parent no process handle for a Linux `git`, so
 * CPython's subprocess cannot wait for one. Never shipped: .ci/wine/setup builds it with
 * gcc-mingw-w64 into the Wine home's `git` folder. */
#include <windows.h>
#include <stdio.h>
#include <wchar.h>

static int fail(const char *what)
{
    fprintf(stderr, "git stand-in (CI under Wine): %s failed (error %lu)\n", what,
            GetLastError());
    return 125;
}

static const wchar_t *arguments_after_program(const wchar_t *line)
{
    if (*line == L'"') {  /* CreateProcess' rule: a quoted program name ends at its quote */
        line++;
        while (*line && *line != L'"') line++;
        if (*line) line++;
    } else {
        while (*line && *line != L' ' && *line != L'\t') line++;
    }
    while (*line == L' ' || *line == L'\t') line++;
    return line;
}

int wmain(void)
{
    wchar_t here[MAX_PATH];
    DWORD got = GetModuleFileNameW(NULL, here, MAX_PATH);
    if (got == 0 || got >= MAX_PATH) return fail("GetModuleFileNameW");
    wchar_t *slash = wcsrchr(here, L'\\');
    if (slash) *slash = 0;
    const wchar_t *rest = arguments_after_program(GetCommandLineW());
    size_t size = 2 * wcslen(here) + wcslen(rest) + 64;
    wchar_t *command = HeapAlloc(GetProcessHeap(), 0, size * sizeof(wchar_t));
    if (!command) return fail("HeapAlloc");
    /* A named interpreter, not a search: the current folder (a step's) comes first in one. */
    _snwprintf(command, size, L"\"%ls\\..\\python\\python.exe\" \"%ls\\git_standin.py\" %ls",
               here, here, rest);
    command[size - 1] = 0;

    /* The script dies with this program: a caller's timeout that kills git.exe leaves no
     * python.exe holding its pipes open. */
    HANDLE job = CreateJobObjectW(NULL, NULL);
    if (!job) return fail("CreateJobObjectW");
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits = {0};
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    if (!SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits,
                                 sizeof limits))
        return fail("SetInformationJobObject");

    STARTUPINFOW start = {0};
    start.cb = sizeof start;
    start.dwFlags = STARTF_USESTDHANDLES;
    start.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    start.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
    start.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    PROCESS_INFORMATION child;
    if (!CreateProcessW(NULL, command, NULL, NULL, TRUE, CREATE_SUSPENDED, NULL, NULL, &start,
                        &child))
        return fail("CreateProcessW");
    if (!AssignProcessToJobObject(job, child.hProcess)) {
        TerminateProcess(child.hProcess, 125);
        return fail("AssignProcessToJobObject");
    }
    ResumeThread(child.hThread);
    WaitForSingleObject(child.hProcess, INFINITE);
    DWORD code = 1;
    GetExitCodeProcess(child.hProcess, &code);
    return (int)code;
}
