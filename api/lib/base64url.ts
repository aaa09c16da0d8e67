import { base64url } from 'jose';

/**
 * base64url without `Buffer`, which Workers lack (without nodejs_compat): the app stays
 * runtime-neutral.
 */
export function encodeBase64Url(data: string | Uint8Array | ArrayBuffer): string {
  return base64url.encode(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
}

/** The UTF-8 text encoded in `text`, or null when it is not base64url or not UTF-8. */
export function decodeBase64UrlText(text: string): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(base64url.decode(text));
  } catch {
    return null;
  }
}
