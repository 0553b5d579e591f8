// miniav in browsers (the "browser" export condition): @miniav/web, the same API as in Node.
export * from '@miniav/web';
export { default } from '@miniav/web';
