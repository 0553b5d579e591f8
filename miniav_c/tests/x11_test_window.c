/* A test window of known colour, geometry and title for the X11 tests, driven over
 * stdin so a test can move, resize, hide, recolour and close it:
 *
 *   x11_test_window TITLE RRGGBB X Y WIDTH HEIGHT
 *   stdin:  move X Y | resize W H | unmap | map | color RRGGBB | quit
 *           ewmh | noewmh   (set / delete the root's _NET_CLIENT_LIST = [this window], as
 *                            an EWMH window manager would)
 *   stdout: "ready 0x<window id>" once mapped, then "ok" after each command has been
 *           processed by the server.
 *
 * The server paints the background pixel itself, so the window needs no drawing code.
 * WM_STATE, _NET_WM_NAME, WM_CLASS and _NET_WM_PID are set the way a window manager
 * and a toolkit would, so enumeration finds the window without a window manager.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xcb/xcb.h>

static xcb_connection_t *c;

static xcb_atom_t atom(const char *name) {
    xcb_intern_atom_reply_t *r = xcb_intern_atom_reply(c, xcb_intern_atom(c, 0, (uint16_t)strlen(name), name), NULL);
    xcb_atom_t a = r ? r->atom : XCB_NONE;
    free(r);
    return a;
}

static void sync_server(void) {
    free(xcb_get_input_focus_reply(c, xcb_get_input_focus(c), NULL));
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s TITLE RRGGBB X Y WIDTH HEIGHT\n", argv[0]);
        return 2;
    }
    c = xcb_connect(NULL, NULL);
    if (xcb_connection_has_error(c)) {
        fprintf(stderr, "cannot open display %s\n", getenv("DISPLAY") ? getenv("DISPLAY") : "(unset)");
        return 1;
    }
    xcb_screen_t *screen = xcb_setup_roots_iterator(xcb_get_setup(c)).data;
    xcb_window_t w = xcb_generate_id(c);
    uint32_t values[] = {(uint32_t)strtoul(argv[2], NULL, 16), XCB_EVENT_MASK_STRUCTURE_NOTIFY};
    xcb_create_window(c, XCB_COPY_FROM_PARENT, w, screen->root, (int16_t)atoi(argv[3]), (int16_t)atoi(argv[4]),
                      (uint16_t)atoi(argv[5]), (uint16_t)atoi(argv[6]), 0, XCB_WINDOW_CLASS_INPUT_OUTPUT, screen->root_visual,
                      XCB_CW_BACK_PIXEL | XCB_CW_EVENT_MASK, values);
    const char *title = argv[1];
    xcb_change_property(c, XCB_PROP_MODE_REPLACE, w, XCB_ATOM_WM_NAME, XCB_ATOM_STRING, 8, (uint32_t)strlen(title), title);
    xcb_change_property(c, XCB_PROP_MODE_REPLACE, w, atom("_NET_WM_NAME"), atom("UTF8_STRING"), 8, (uint32_t)strlen(title), title);
    const char wm_class[] = "miniav-test\0MiniAVTest";
    xcb_change_property(c, XCB_PROP_MODE_REPLACE, w, XCB_ATOM_WM_CLASS, XCB_ATOM_STRING, 8, sizeof wm_class, wm_class);
    uint32_t pid = (uint32_t)getpid();
    xcb_change_property(c, XCB_PROP_MODE_REPLACE, w, atom("_NET_WM_PID"), XCB_ATOM_CARDINAL, 32, 1, &pid);
    xcb_atom_t wm_state = atom("WM_STATE");
    uint32_t normal_state[] = {1, XCB_NONE};
    xcb_change_property(c, XCB_PROP_MODE_REPLACE, w, wm_state, wm_state, 32, 2, normal_state);
    xcb_map_window(c, w);
    sync_server();
    printf("ready 0x%x\n", w);
    fflush(stdout);

    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        int a, b;
        char hex[16];
        if (sscanf(line, "move %d %d", &a, &b) == 2) {
            uint32_t v[] = {(uint32_t)a, (uint32_t)b};
            xcb_configure_window(c, w, XCB_CONFIG_WINDOW_X | XCB_CONFIG_WINDOW_Y, v);
        } else if (sscanf(line, "resize %d %d", &a, &b) == 2) {
            uint32_t v[] = {(uint32_t)a, (uint32_t)b};
            xcb_configure_window(c, w, XCB_CONFIG_WINDOW_WIDTH | XCB_CONFIG_WINDOW_HEIGHT, v);
        } else if (!strncmp(line, "unmap", 5)) {
            xcb_unmap_window(c, w);
        } else if (!strncmp(line, "map", 3)) {
            xcb_map_window(c, w);
        } else if (sscanf(line, "color %15s", hex) == 1) {
            uint32_t v = (uint32_t)strtoul(hex, NULL, 16);
            xcb_change_window_attributes(c, w, XCB_CW_BACK_PIXEL, &v);
            xcb_clear_area(c, 0, w, 0, 0, 0, 0);
        } else if (!strncmp(line, "noewmh", 6)) {
            xcb_delete_property(c, screen->root, atom("_NET_CLIENT_LIST"));
        } else if (!strncmp(line, "ewmh", 4)) {
            xcb_change_property(c, XCB_PROP_MODE_REPLACE, screen->root, atom("_NET_CLIENT_LIST"), XCB_ATOM_WINDOW, 32, 1, &w);
        } else if (!strncmp(line, "quit", 4)) {
            break;
        } else {
            fprintf(stderr, "unknown command: %s", line);
            continue;
        }
        sync_server();
        puts("ok");
        fflush(stdout);
    }
    xcb_destroy_window(c, w);
    sync_server();
    xcb_disconnect(c);
    return 0;
}
