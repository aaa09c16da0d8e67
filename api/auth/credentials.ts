import { z } from '@hono/zod-openapi';
import { encodeBase64Url } from '../lib/base64url.ts';
import { MAX_PASSWORD_BYTES } from './passwords.ts';

/** What a username and a password must be, wherever users are made: the API's routes and the CLI. */

export const UsernameSchema = z
  .string()
  .min(3)
  .max(150)
  .regex(/^[A-Za-z0-9_.@-]+$/, 'must be letters, digits or _ . @ -')
  .openapi({
    description:
      'Login name (3 to 150 characters). Unique regardless of case and Unicode form: a login may spell it ' +
      'in any case, and a new name that differs from a taken one only so is refused (409)',
    example: 'alice',
  });

export const PasswordSchema = z
  .string()
  .min(8, 'must be at least 8 characters')
  .refine(
    (p) => new TextEncoder().encode(p).length <= MAX_PASSWORD_BYTES,
    `must be at most ${MAX_PASSWORD_BYTES} bytes`,
  )
  .openapi({
    description: `Password (8 characters to ${MAX_PASSWORD_BYTES} bytes)`,
    example: 'correct horse battery staple',
  });

/** A random password of 20 URL-safe characters (120 bits). */
export function generatePassword(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(15)));
}
