import { describe, expect, test } from 'bun:test';
import { configuredSidecars, loadConfig, parseSidecarPairs } from './config.ts';
import { isEnvError } from './shared/base/env.ts';

const base = { APP_ENV: 'test' };

/** The one line loadConfig's error gives SIDECARS (the test fails when it gives none). */
function sidecarsProblem(raw: string): string {
  try {
    loadConfig({ ...base, SIDECARS: raw });
  } catch (error) {
    if (!isEnvError(error)) throw error;
    const problem = error.problems.find((p) => p.variable === 'SIDECARS');
    if (problem) return problem.reason;
  }
  throw new Error(`SIDECARS=${raw} was accepted`);
}

describe('SIDECARS', () => {
  test('id=url pairs, comma-separated, in order; blanks dropped and trailing slashes trimmed', () => {
    const config = loadConfig({
      ...base,
      SIDECARS: ' east=http://10.0.0.1:8089/ , ,west=https://sc-west.example.com ',
    });
    expect(configuredSidecars(config)).toEqual([
      { id: 'east', url: 'http://10.0.0.1:8089' },
      { id: 'west', url: 'https://sc-west.example.com' },
    ]);
  });

  test('unset or blank: the one sidecar of SIDECAR_ID and SIDECAR_URL', () => {
    for (const SIDECARS of [undefined, '', '  ']) {
      const config = loadConfig({
        ...base,
        SIDECARS,
        SIDECAR_ID: 'solo',
        SIDECAR_URL: 'http://127.0.0.1:9001',
      });
      expect(configuredSidecars(config)).toEqual([{ id: 'solo', url: 'http://127.0.0.1:9001' }]);
    }
  });

  test('a bad pair, a duplicate id or a bad URL is refused with the variable and the pair named', () => {
    expect(sidecarsProblem('east=http://a:1,west')).toContain('pair 2 ("west") must be id=url');
    expect(sidecarsProblem('east=http://a:1,east=http://b:2')).toContain('the id "east" is named twice');
    expect(sidecarsProblem('east=not a url')).toContain('the url must be an http(s) URL');
    expect(sidecarsProblem('east=ftp://a:1')).toContain('the url must be an http(s) URL');
    expect(sidecarsProblem('ea st=http://a:1')).toContain('the id must be letters, digits');
    expect(sidecarsProblem('=http://a:1')).toContain('the id must be');
    expect(sidecarsProblem('east=')).toContain('the url must be');
    // The whole message names the variable, as every configuration error does.
    expect(() => loadConfig({ ...base, SIDECARS: 'east' })).toThrow(
      /^invalid API configuration:\n\s+SIDECARS: pair 1/,
    );
  });

  test('a URL may itself hold "=" (a query): the pair splits at the first one', () => {
    expect(parseSidecarPairs('east=https://sc.example.com/?a=b')).toEqual([
      { id: 'east', url: 'https://sc.example.com/?a=b' },
    ]);
  });
});
