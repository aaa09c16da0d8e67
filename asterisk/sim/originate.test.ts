import { describe, expect, test } from 'bun:test';
import {
  atoi,
  type OriginateArgs,
  type OriginatePlan,
  parseCallerId,
  parseOriginateArgs,
  planOriginate,
} from './originate.ts';

const q = (s: string) => new URLSearchParams(s);
const none = { kind: 'none' } as const;
const args = (query: string, body?: unknown, pathId?: string) =>
  parseOriginateArgs(
    q(query),
    body === undefined ? none : { kind: 'json', value: body },
    pathId,
  ) as OriginateArgs;
const plan = (query: string, body?: unknown) => planOriginate(args(query, body));
const bad = (status: number, message: string) => ({ status, body: { message } });

describe('atoi', () => {
  test('reads like C atoi', () => {
    expect(atoi('30')).toBe(30);
    expect(atoi('  5abc')).toBe(5);
    expect(atoi('abc')).toBe(0);
    expect(atoi('-1')).toBe(-1);
    expect(atoi('')).toBe(0);
  });
});

describe('parseOriginateArgs', () => {
  test('takes the query string', () => {
    const a = args(
      'endpoint=Local/1@x&app=a&appArgs=1,2&timeout=5&channelId=c1&otherChannelId=c2&priority=3',
    );
    expect(a).toMatchObject({ endpoint: 'Local/1@x', app: 'a', appArgs: '1,2', timeout: 5, channelId: 'c1' });
    expect(a.otherChannelId).toBe('c2');
    expect(a.priority).toBe(3);
  });

  test('a JSON body overrides the query, field by field', () => {
    const a = args('endpoint=Local/1@x&app=q', { app: 'b', variables: { A: '1', B: '2' } });
    expect(a.endpoint).toBe('Local/1@x');
    expect(a.app).toBe('b');
    expect(a.variables).toEqual([
      ['A', '1'],
      ['B', '2'],
    ]);
  });

  test('like Asterisk, a timeout sent as a JSON string is ignored (0 means the 30 s default)', () => {
    expect(args('', { timeout: '5' }).timeout).toBe(0);
    expect(args('', { timeout: 5 }).timeout).toBe(5);
    expect(args('timeout=7', { timeout: 5.5 }).timeout).toBe(0);
  });

  test('non-string JSON values read as absent', () => {
    expect(args('endpoint=Local/1@x', { endpoint: 12 }).endpoint).toBeUndefined();
  });

  test('variables must be strings', () => {
    const err = parseOriginateArgs(q(''), { kind: 'json', value: { variables: { A: 1 } } });
    expect(err).toEqual(bad(400, "Only string values in the 'variables' object allowed"));
  });

  test('a JSON array body contributes nothing', () => {
    expect(args('', [1, 2, 3]).endpoint).toBeUndefined();
  });

  test('originateWithId takes the id from the path only', () => {
    expect(args('channelId=q', { channelId: 'b' }, 'path-id').channelId).toBe('path-id');
  });
});

describe('planOriginate: checks in the order of resource_channels.c', () => {
  const long = 'x'.repeat(150);
  test.each([
    [
      'channelId over 149 characters',
      `endpoint=&channelId=${long}`,
      bad(400, 'Uniqueid length exceeds maximum of 149'),
    ],
    [
      'otherChannelId over 149 characters',
      `endpoint=Local/1@x&app=a&otherChannelId=${long}`,
      bad(400, 'Uniqueid length exceeds maximum of 149'),
    ],
    ['no endpoint', 'extension=s', bad(400, 'Endpoint must be specified')],
    ['empty endpoint', 'endpoint=', bad(400, 'Endpoint must be specified')],
    [
      'originator with formats',
      'endpoint=Local/1@x&app=a&originator=o&formats=ulaw',
      bad(400, "Originator and formats can't both be specified"),
    ],
    ['Local/', 'endpoint=Local/&app=a', bad(400, 'Invalid endpoint specified')],
    ['Local', 'endpoint=Local&app=a', bad(400, 'Invalid endpoint specified')],
    ['no technology', 'endpoint=5551234000&app=a', bad(400, 'Invalid endpoint specified')],
    ['empty technology', 'endpoint=/5551234000&app=a', bad(400, 'Invalid endpoint specified')],
    [
      'neither app nor extension',
      'endpoint=Local/1@x',
      bad(400, 'Application or extension must be specified'),
    ],
    [
      'unknown label',
      'endpoint=Local/1@x&extension=s&label=start',
      bad(404, 'Requested label can not be found'),
    ],
    ['label 0', 'endpoint=Local/1@x&extension=s&label=0', bad(400, 'Requested priority is illegal')],
    [
      'unknown format, before the technology is looked at',
      'endpoint=Foo/1&app=a&formats=nosuchformat',
      bad(400, 'Provided format (nosuchformat) was not found'),
    ],
  ])('%s', (_label, query, expected) => {
    expect(plan(query)).toEqual(expected);
  });

  test('a channelId of exactly 149 characters is fine', () => {
    expect(plan(`endpoint=Local/1@x&app=a&channelId=${'x'.repeat(149)}`)).toHaveProperty('tech', 'Local');
  });

  test('timeouts: default 30 s, -1 none, nonsense the default', () => {
    expect((plan('endpoint=Local/1@x&app=a') as OriginatePlan).timeoutMs).toBe(30_000);
    expect((plan('endpoint=Local/1@x&app=a&timeout=5') as OriginatePlan).timeoutMs).toBe(5_000);
    expect((plan('endpoint=Local/1@x&app=a&timeout=-1') as OriginatePlan).timeoutMs).toBeNull();
    expect((plan('endpoint=Local/1@x&app=a&timeout=abc') as OriginatePlan).timeoutMs).toBe(30_000);
  });

  test('app wins over extension; dialplan style defaults to context default, priority 1', () => {
    expect(plan('endpoint=Local/1@x&app=a&appArgs=b,c&extension=s')).toMatchObject({ appData: 'a,b,c' });
    expect(plan('endpoint=Local/1@x&extension=s')).toMatchObject({
      appData: null,
      context: 'default',
      priority: 1,
    });
    expect(plan('endpoint=Local/1@x&extension=s&label=3')).toMatchObject({ priority: 3 });
  });

  test('an unknown technology passes here; the 500 comes when the channel is allocated', () => {
    expect(plan('endpoint=SIP/5551234000@trunk&app=a')).toMatchObject({
      tech: 'SIP',
      device: '5551234000@trunk',
    });
  });
});

describe('parseCallerId', () => {
  test.each([
    ['Contact Center <5550001111>', { name: 'Contact Center', number: '5550001111' }],
    ['"Contact Center" <5550001111>', { name: 'Contact Center', number: '5550001111' }],
    ['<5550001111>', { name: '', number: '5550001111' }],
    ['555-000 1111', { name: '', number: '5550001111' }],
    ['Outbound Call', { name: 'Outbound Call', number: '' }],
  ])('%s', (input, expected) => {
    expect(parseCallerId(input)).toEqual(expected);
  });
});
