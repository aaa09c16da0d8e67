import { describe, expect, test } from 'bun:test';
import { loadConfig } from '../../api/config.ts';
import { parseConfig } from '../../sidecar/config.ts';

/**
 * Both sides read SIDECAR_ID: the API to address commands and accept batches, the sidecar to name
 * itself and its outbox file. An id one side takes and the other refuses would start an API that no
 * sidecar can ever answer, so both take exactly the same ids.
 */

const sidecarRequired = {
  SIDECAR_PRIVATE_KEY: '{"kty":"OKP"}',
  API_URL: 'https://api.example/',
  API_PUBLIC_KEYS: '{"keys":[]}',
};

const apiTakes = (id: string) => {
  try {
    return loadConfig({ APP_ENV: 'test', SIDECAR_ID: id }).SIDECAR_ID === id;
  } catch {
    return false;
  }
};
const sidecarTakes = (id: string) => {
  try {
    return parseConfig({ ...sidecarRequired, SIDECAR_ID: id }).sidecarId === id;
  } catch {
    return false;
  }
};

describe('SIDECAR_ID', () => {
  test('the API and the sidecar take the same ids: letters, digits, _ and -, at most 64', () => {
    const ids = ['default', 'pbx1', 'e2e-1234abcd', 'A_b-9', 'x'.repeat(64)];
    const refused = ['pbx.1', '../etc', 'a/b', 'a:b', 'pbx 1', 'x'.repeat(65), 'x'.repeat(100), 'é'];
    for (const id of ids)
      expect({ id, api: apiTakes(id), sidecar: sidecarTakes(id) }).toEqual({ id, api: true, sidecar: true });
    for (const id of refused)
      expect({ id, api: apiTakes(id), sidecar: sidecarTakes(id) }).toEqual({
        id,
        api: false,
        sidecar: false,
      });
  });
});
