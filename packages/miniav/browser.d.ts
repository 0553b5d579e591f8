export * from '@miniav/web';
export { default } from '@miniav/web';
