/* Small Windows helpers the Windows backends share: text conversion between the API's
 * UTF-8 and Windows' UTF-16. */
#include "miniav_internal.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <stdlib.h>
#include <string.h>
#include <windows.h>

void miniav_utf16_to_utf8(char *dst, size_t dst_size, const wchar_t *src) {
    if (!dst || !dst_size) return;
    dst[0] = '\0';
    if (!src) return;
    int n = WideCharToMultiByte(CP_UTF8, 0, src, -1, dst, (int)dst_size, NULL, NULL);
    if (n > 0) return;
    /* Too long: convert into a temporary and cut before the first byte that does not fit,
     * on a character boundary (never half of a multi-byte sequence). */
    int need = WideCharToMultiByte(CP_UTF8, 0, src, -1, NULL, 0, NULL, NULL);
    char *tmp = need > 0 ? malloc((size_t)need) : NULL;
    if (!tmp) return;
    WideCharToMultiByte(CP_UTF8, 0, src, -1, tmp, need, NULL, NULL);
    size_t cut = dst_size - 1;
    while (cut > 0 && ((unsigned char)tmp[cut] & 0xC0) == 0x80) cut--;
    memcpy(dst, tmp, cut);
    dst[cut] = '\0';
    free(tmp);
}

wchar_t *miniav_utf8_to_utf16(const char *src) {
    if (!src) return NULL;
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, src, -1, NULL, 0);
    if (n <= 0) return NULL;
    wchar_t *w = malloc((size_t)n * sizeof *w);
    if (w && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, src, -1, w, n) <= 0) {
        free(w);
        return NULL;
    }
    return w;
}
#else
typedef int miniav_win32_unused; /* ISO C: a translation unit must declare something */
#endif
