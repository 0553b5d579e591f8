// miniav: what users install. In Node it is @miniav/node; browsers get @miniav/web
// through the "browser" export condition once that package lands.
export * from '@miniav/node';
export { default } from '@miniav/node';
