// The page under test: @miniav/web as a bundler (esbuild) builds it for a browser.
import * as miniav from '@miniav/web';
window.miniav = miniav;
window.miniavReady = true;
