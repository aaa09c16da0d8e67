import { describe, expect, test } from 'bun:test';
import { decodeBase64UrlText, encodeBase64Url } from './base64url.ts';

describe('base64url', () => {
  test('encodes bytes, buffers and text as unpadded base64url', () => {
    expect(encodeBase64Url(new Uint8Array([0xfb, 0xff, 0xfe]))).toBe('-__-');
    expect(encodeBase64Url(new Uint8Array([0xfb, 0xff]).buffer)).toBe('-_8');
    expect(encodeBase64Url('alice')).toBe('YWxpY2U');
    expect(encodeBase64Url('ünï')).toBe('w7xuw68');
  });

  test('decodes what it encoded; refuses what is not base64url or not UTF-8', () => {
    for (const text of ['alice', '', 'ünïcødé ☎', '{"t":"2026-01-01","i":"x"}'])
      expect(decodeBase64UrlText(encodeBase64Url(text))).toBe(text);
    expect(decodeBase64UrlText('a+b/')).toBeNull();
    expect(decodeBase64UrlText('%%%')).toBeNull();
    expect(decodeBase64UrlText(encodeBase64Url(new Uint8Array([0xff, 0xfe])))).toBeNull();
  });
});
