import { MiniAVError, type MiniAVErrorCode } from '@miniav/platform-interface';

/** The MiniAV error for a DOMException (or anything else) thrown by a browser media API. */
export function fromDomError(error: unknown, what: string): MiniAVError {
  if (error instanceof MiniAVError) return error;
  const name = error instanceof Error ? error.name : '';
  const message = error instanceof Error ? error.message : String(error);
  const table: Record<string, [MiniAVErrorCode, string]> = {
    NotAllowedError: ['MINIAV_ERROR_PERMISSION_DENIED', 'the user or the browser refused access (serve the page over https or localhost, and allow it in the prompt or the site settings)'],
    SecurityError: ['MINIAV_ERROR_PERMISSION_DENIED', 'the page is not allowed to capture (a secure context and a permissions policy that allows it are required)'],
    NotFoundError: ['MINIAV_ERROR_DEVICE_NOT_FOUND', 'no such device: enumerate the devices again'],
    NotReadableError: ['MINIAV_ERROR_DEVICE_BUSY', 'the device is in use by another program, or the system failed to open it'],
    AbortError: ['MINIAV_ERROR_DEVICE_BUSY', 'the device could not be started'],
    OverconstrainedError: ['MINIAV_ERROR_FORMAT_NOT_SUPPORTED', 'the device offers no format that meets the options: see getSupportedFormats()'],
    NotSupportedError: ['MINIAV_ERROR_NOT_SUPPORTED', 'this browser does not support it'],
    TypeError: ['MINIAV_ERROR_INVALID_ARG', 'the browser rejected the options'],
    InvalidStateError: ['MINIAV_ERROR_INVALID_HANDLE', 'the page is not in a state that allows capture (a user gesture may be needed)'],
  };
  const [code, hint] = table[name] ?? ['MINIAV_ERROR_SYSTEM_CALL_FAILED', 'the browser failed'];
  const constraint = (error as { constraint?: unknown } | null)?.constraint;
  const detail = typeof constraint === 'string' && constraint ? ` (constraint '${constraint}')` : '';
  return new MiniAVError(code, `${what}: ${hint}${detail}${message ? ` — ${name || 'Error'}: ${message}` : ''}`);
}

export function invalid(message: string): MiniAVError {
  return new MiniAVError('MINIAV_ERROR_INVALID_ARG', message);
}

export function notSupported(message: string): MiniAVError {
  return new MiniAVError('MINIAV_ERROR_NOT_SUPPORTED', message);
}
