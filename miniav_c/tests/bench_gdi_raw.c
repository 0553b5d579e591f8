/* The limit for the Windows screen benchmark (bench/windows.mjs): a bare loop of GDI
 * screen reads, with nothing around it. GetDC(NULL) once, one memory DC with a 32-bit
 * top-down DIB section of the whole primary screen selected, then
 * BitBlt(SRCCOPY | CAPTUREBLT) of the screen into it followed by GdiFlush(), again and
 * again, for the given number of seconds: what the MiniAV gdi backend does per frame
 * (miniav_c/src/screen/gdi.c, grab_screen) without the pool, the pacing or any delivery.
 * No pixel is read in the loop, no alpha is set.
 *
 * An optional second argument makes that many DIB sections and blits into them in turn
 * (round robin), as a capture library with a pool of buffers does: with one the
 * destination may stay in the CPU cache, with several it does not. A third argument
 * "section" builds each DIB section over a page-file mapping of its own
 * (CreateFileMapping, as the gdi backend's pool buffers are) instead of letting GDI
 * allocate its memory ("heap", the default). A fourth argument says which thread runs it
 * all (GetDC to the end): "thread" (default), a second thread, as the gdi backend's capture
 * thread; or "main", the process's first thread, as ffmpeg's gdigrab (read by ffmpeg's main
 * thread). Under Wine 8 this matters: the same loop on the main thread was about 3x slower
 * (about 87 vs 260 fps on the rig); on Windows it should not.
 *
 * Prints "ready" on its own line once set up (the benchmark starts counting the CPU of
 * the other processes there), then one JSON line after the loop:
 * {"fps":..,"cpuMsPerFrame":..,"frames":..,"width":..,"height":..,"centre":"RRGGBB"}.
 * CPU is this process's user + kernel time over the loop (GetProcessTimes); what the
 * window system spends (under Wine: wineserver and the X server) is not in it.
 *
 * usage: bench_gdi_raw [seconds [dibs [heap|section [thread|main]]]]   (defaults: 3 1 heap thread)
 * Build (MinGW-w64): x86_64-w64-mingw32-gcc -O2 bench_gdi_raw.c -o bench_gdi_raw.exe -lgdi32 -luser32 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIBS 16

static double cpu_ms(void) {
    FILETIME c, e, k, u;
    if (!GetProcessTimes(GetCurrentProcess(), &c, &e, &k, &u)) return 0;
    ULARGE_INTEGER kk = {.LowPart = k.dwLowDateTime, .HighPart = k.dwHighDateTime};
    ULARGE_INTEGER uu = {.LowPart = u.dwLowDateTime, .HighPart = u.dwHighDateTime};
    return (double)(kk.QuadPart + uu.QuadPart) / 1e4; /* 100 ns units */
}

static double mono_s(void) {
    static LARGE_INTEGER f;
    LARGE_INTEGER t;
    if (!f.QuadPart) QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&t);
    return (double)t.QuadPart / (double)f.QuadPart;
}

static double seconds;
static int dibs;
static const char *memory, *where;
static bool use_section;

static int bench(void);

static DWORD WINAPI bench_thread(LPVOID arg) {
    *(int *)arg = bench();
    return 0;
}

int main(int argc, char **argv) {
    seconds = argc > 1 ? atof(argv[1]) : 3;
    dibs = argc > 2 ? atoi(argv[2]) : 1;
    memory = argc > 3 ? argv[3] : "heap";
    where = argc > 4 ? argv[4] : "thread";
    use_section = strcmp(memory, "section") == 0;
    bool on_main = strcmp(where, "main") == 0;
    if (!(seconds > 0) || dibs < 1 || dibs > MAX_DIBS || (!use_section && strcmp(memory, "heap") != 0) ||
        (!on_main && strcmp(where, "thread") != 0)) {
        fprintf(stderr, "usage: %s [seconds [dibs (1-%d) [heap|section [thread|main]]]]\n", argv[0], MAX_DIBS);
        return 2;
    }
    if (on_main) return bench();
    int rc = 1;
    HANDLE t = CreateThread(NULL, 0, bench_thread, &rc, 0, NULL);
    if (!t) {
        fprintf(stderr, "bench_gdi_raw: CreateThread failed (error %lu)\n", (unsigned long)GetLastError());
        return 1;
    }
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
    return rc;
}

static int bench(void) {
    SetProcessDPIAware(); /* physical pixels, as the gdi backend sees them */
    int w = GetSystemMetrics(SM_CXSCREEN), h = GetSystemMetrics(SM_CYSCREEN);
    HDC screen = GetDC(NULL);
    HDC memdc = screen ? CreateCompatibleDC(screen) : NULL;
    if (!memdc || w <= 0 || h <= 0) {
        fprintf(stderr, "bench_gdi_raw: no screen DC (error %lu)\n", (unsigned long)GetLastError());
        return 77;
    }
    BITMAPINFO bi = {0};
    bi.bmiHeader.biSize = sizeof bi.bmiHeader;
    bi.bmiHeader.biWidth = w;
    bi.bmiHeader.biHeight = -h; /* top-down, like the gdi backend's buffers */
    bi.bmiHeader.biPlanes = 1;
    bi.bmiHeader.biBitCount = 32;
    bi.bmiHeader.biCompression = BI_RGB;
    HBITMAP dib[MAX_DIBS];
    uint8_t *bits[MAX_DIBS];
    for (int i = 0; i < dibs; i++) {
        HANDLE section = NULL;
        if (use_section) {
            section = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, (DWORD)w * (DWORD)h * 4u, NULL);
            if (!section) {
                fprintf(stderr, "bench_gdi_raw: CreateFileMapping failed (error %lu)\n", (unsigned long)GetLastError());
                return 1;
            }
        }
        dib[i] = CreateDIBSection(screen, &bi, DIB_RGB_COLORS, (void **)&bits[i], section, 0);
        if (!dib[i]) {
            fprintf(stderr, "bench_gdi_raw: CreateDIBSection failed (error %lu)\n", (unsigned long)GetLastError());
            return 1;
        }
    }
    HGDIOBJ old = SelectObject(memdc, dib[0]);
    /* One frame before the clock starts: first-use costs (X image set-up) out of the loop. */
    if (!BitBlt(memdc, 0, 0, w, h, screen, 0, 0, SRCCOPY | CAPTUREBLT)) {
        fprintf(stderr, "bench_gdi_raw: BitBlt failed (error %lu)\n", (unsigned long)GetLastError());
        return 1;
    }
    GdiFlush();
    printf("ready\n");
    fflush(stdout);

    long frames = 0, failed = 0;
    double c0 = cpu_ms(), t0 = mono_s(), t = t0;
    while (t - t0 < seconds) {
        if (dibs > 1) SelectObject(memdc, dib[frames % dibs]);
        if (!BitBlt(memdc, 0, 0, w, h, screen, 0, 0, SRCCOPY | CAPTUREBLT)) failed++;
        GdiFlush();
        frames++;
        t = mono_s();
    }
    double c1 = cpu_ms();
    const uint8_t *px = bits[(frames - 1) % dibs] + ((size_t)(h / 2) * (size_t)w + (size_t)(w / 2)) * 4;
    printf("{\"fps\":%.2f,\"cpuMsPerFrame\":%.4f,\"frames\":%ld,\"failed\":%ld,\"seconds\":%.3f,\"width\":%d,\"height\":%d,"
           "\"dibs\":%d,\"memory\":\"%s\",\"thread\":\"%s\",\"centre\":\"%02X%02X%02X\"}\n",
           frames / (t - t0), (c1 - c0) / (double)frames, frames, failed, t - t0, w, h, dibs, memory, where, px[2], px[1], px[0]);
    fflush(stdout);
    SelectObject(memdc, old);
    for (int i = 0; i < dibs; i++) DeleteObject(dib[i]);
    DeleteDC(memdc);
    ReleaseDC(NULL, screen);
    return failed ? 1 : 0;
}
