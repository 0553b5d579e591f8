/* dlopen helper: optional system libraries (libpulse, libpipewire, libxcb…) are
 * loaded at run time, so the library loads on machines without them and a missing
 * one is an error for that backend alone. */
#define _GNU_SOURCE
#include "miniav_internal.h"

#include <stdio.h>
#include <stdlib.h>
#ifdef _WIN32
/* Windows: LoadLibrary for what an edition may lack (Media Foundation on "N" editions,
 * ActivateAudioInterfaceAsync before Windows 8). Names are DLL names ("mfplat.dll"). */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#define dlopen(name, flags) ((void *)LoadLibraryExA(name, NULL, LOAD_LIBRARY_SEARCH_SYSTEM32))
#define dlsym(h, name) ((void *)GetProcAddress((HMODULE)(h), name))
#define dlclose(h) FreeLibrary((HMODULE)(h))
static const char *dlerror(void) {
    static _Thread_local char text[64];
    snprintf(text, sizeof text, "Windows error %lu", (unsigned long)GetLastError());
    return text;
}
#else
#include <dlfcn.h>
#endif

struct miniav_library {
    void *handle;
    const char *name;
};

miniav_library *miniav_library_open(const char *const *names) {
    if (!names) return NULL;
    for (size_t i = 0; names[i]; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            miniav_log(MINIAV_LOG_LEVEL_DEBUG, "dlopen %s: %s", names[i], dlerror());
            continue;
        }
        miniav_library *lib = calloc(1, sizeof *lib);
        if (!lib) {
            dlclose(h);
            return NULL;
        }
        lib->handle = h;
        lib->name = names[i];
        return lib;
    }
    return NULL;
}

void *miniav_library_symbol(miniav_library *lib, const char *name) {
    return lib ? dlsym(lib->handle, name) : NULL;
}

MiniAVResultCode miniav_library_load_symbols(miniav_library *lib, const miniav_symbol *table, size_t count) {
    if (!lib) return miniav_fail(MINIAV_ERROR_BACKEND_UNAVAILABLE, "library not loaded");
    for (size_t i = 0; i < count; i++) {
        void *p = dlsym(lib->handle, table[i].name);
        if (!p)
            return miniav_fail(MINIAV_ERROR_BACKEND_UNAVAILABLE, "%s has no symbol %s: the installed version is too old",
                               lib->name, table[i].name);
        *table[i].slot = p;
    }
    return MINIAV_SUCCESS;
}

void miniav_library_close(miniav_library *lib) {
    if (!lib) return;
    dlclose(lib->handle);
    free(lib);
}
