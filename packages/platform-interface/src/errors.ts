/** The result codes of the C core, by name. Every failure carries one. */
export const MINIAV_ERROR_CODES = [
  'MINIAV_ERROR_UNKNOWN',
  'MINIAV_ERROR_INVALID_ARG',
  'MINIAV_ERROR_NOT_INITIALIZED',
  'MINIAV_ERROR_SYSTEM_CALL_FAILED',
  'MINIAV_ERROR_NOT_SUPPORTED',
  'MINIAV_ERROR_BUFFER_TOO_SMALL',
  'MINIAV_ERROR_INVALID_HANDLE',
  'MINIAV_ERROR_DEVICE_NOT_FOUND',
  'MINIAV_ERROR_DEVICE_BUSY',
  'MINIAV_ERROR_DEVICE_LOST',
  'MINIAV_ERROR_OUT_OF_MEMORY',
  'MINIAV_ERROR_ALREADY_RUNNING',
  'MINIAV_ERROR_NOT_RUNNING',
  'MINIAV_ERROR_FORMAT_NOT_SUPPORTED',
  'MINIAV_ERROR_TIMEOUT',
  'MINIAV_ERROR_BACKEND_UNAVAILABLE',
  'MINIAV_ERROR_PERMISSION_DENIED',
  'MINIAV_ERROR_STREAM_CLOSED',
] as const;

export type MiniAVErrorCode = (typeof MINIAV_ERROR_CODES)[number];

/**
 * Every error MiniAV throws or emits. `code` is the C core's result name, stable
 * across versions and platforms; `message` says what went wrong and what to do.
 */
export class MiniAVError extends Error {
  readonly code: MiniAVErrorCode;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'MiniAVError';
    this.code = (MINIAV_ERROR_CODES as readonly string[]).includes(code) ? (code as MiniAVErrorCode) : 'MINIAV_ERROR_UNKNOWN';
  }
}

export function isMiniAVError(value: unknown): value is MiniAVError {
  return value instanceof MiniAVError;
}
