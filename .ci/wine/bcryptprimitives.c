/* A stand-in for Windows' bcryptprimitives.dll, for CI under Wine 8 only.
 *
 * Rust's standard library (pydantic-core, squawk) imports ProcessPrng from it; Wine 8.0
 * has no such export, so those wheels fail to load. This gives ProcessPrng over
 * RtlGenRandom (advapi32's SystemFunction036), the same system generator. Never shipped:
 * .ci/wine/setup builds it with gcc-mingw-w64 into the test interpreter's folder. */
#include <windows.h>

typedef BOOLEAN (WINAPI *gen_random)(PVOID, ULONG);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    static gen_random fill;
    if (!fill) {
        HMODULE advapi = LoadLibraryA("advapi32.dll");
        if (!advapi) return FALSE;
        fill = (gen_random)GetProcAddress(advapi, "SystemFunction036");
        if (!fill) return FALSE;
    }
    while (len > 0) {  /* RtlGenRandom takes a ULONG length */
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!fill(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
    (void)inst; (void)reason; (void)reserved;
    return TRUE;
}
