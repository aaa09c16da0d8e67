import { describe, expect, test } from 'bun:test';
import { createLogger, type LoggerOptions } from './log.ts';

/** The logger every process uses: one JSON record a line, its context bound in, secrets kept out. */

function capture(options: LoggerOptions = {}) {
  const lines: { line: string; level: string }[] = [];
  const logger = createLogger({ ...options, sink: (line, level) => lines.push({ line, level }) });
  const records = () => lines.map(({ line }) => JSON.parse(line) as Record<string, unknown>);
  return { lines, logger, records };
}

describe('createLogger', () => {
  test('one line per record: level, time and msg first, then the bindings and the fields', () => {
    const { lines, logger, records } = capture({ base: { service: 'api' } });
    logger.info('request', { status: 200, note: 'two\nlines' });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.line).not.toContain('\n');
    expect(lines[0]!.level).toBe('info');
    const [record] = records();
    expect(Object.keys(record!)).toEqual(['level', 'time', 'msg', 'service', 'status', 'note']);
    expect(record).toMatchObject({ level: 'info', msg: 'request', service: 'api', status: 200 });
    expect(new Date(record!.time as string).toISOString()).toBe(record!.time as string);
  });

  test('child() binds request and call ids into every line, the parent unchanged', () => {
    const { logger, records } = capture({ base: { service: 'api' } });
    const request = logger.child({ request_id: 'r1' });
    const call = request.child({ call_id: 'c1' });
    call.warn('sidecar unreachable');
    request.info('request');
    logger.info('plain');
    expect(records().map(({ time: _t, ...rest }) => rest)).toEqual([
      { level: 'warn', msg: 'sidecar unreachable', service: 'api', request_id: 'r1', call_id: 'c1' },
      { level: 'info', msg: 'request', service: 'api', request_id: 'r1' },
      { level: 'info', msg: 'plain', service: 'api' },
    ]);
  });

  test('records below the level are not written; silent writes nothing', () => {
    const info = capture({ level: 'info' });
    info.logger.debug('hidden');
    info.logger.error('shown');
    expect(info.records().map((r) => r.msg)).toEqual(['shown']);
    const silent = capture({ level: 'silent' });
    silent.logger.error('hidden');
    silent.logger.child({ a: 1 }).error('hidden');
    expect(silent.lines).toEqual([]);
  });

  test('values under secret keys are redacted at any depth, in fields and in bindings', () => {
    const { lines, logger } = capture();
    logger.child({ api_key: 'k-123' }).info('started', {
      config: { ariPassword: 'hunter2', nested: { private_key: 'pk', d: 'jwk-d', port: 8089 } },
      headers: [{ authorization: 'Bearer tok' }],
    });
    const line = lines[0]!.line;
    for (const secret of ['k-123', 'hunter2', '"pk"', 'jwk-d', 'Bearer tok'])
      expect(line).not.toContain(secret);
    expect(JSON.parse(line).config.nested.port).toBe(8089);
  });

  test('errors are written as name, message and the top of the stack, wherever they sit', () => {
    const { logger, records } = capture();
    logger.error('failed', {
      error: new TypeError('not a function'),
      inner: { cause: new RangeError('far') },
    });
    const [record] = records() as [
      { error: Record<string, string>; inner: { cause: Record<string, string> } },
    ];
    expect(record.error).toMatchObject({ name: 'TypeError', message: 'not a function' });
    expect(record.error.stack!.split('\n').length).toBeLessThanOrEqual(8);
    expect(record.inner.cause).toMatchObject({ name: 'RangeError', message: 'far' });
  });

  test('errorFormat decides how an error is written, and children keep it', () => {
    const { logger, records } = capture({
      errorFormat: (value) => (value instanceof RangeError ? { name: 'Safe', message: 'kept short' } : null),
    });
    logger
      .child({ call_id: 'c' })
      .error('x', { error: new RangeError('SELECT secret FROM t'), other: new Error('e') });
    const [record] = records() as [{ error: unknown; other: { message: string } }];
    expect(record.error).toEqual({ name: 'Safe', message: 'kept short' });
    expect(record.other.message).toBe('e');
  });

  test('the default sink sends warnings and errors to stderr, the rest to stdout', () => {
    const out: string[] = [];
    const err: string[] = [];
    const { log, error } = console;
    console.log = (line: string) => out.push(line);
    console.error = (line: string) => err.push(line);
    try {
      const logger = createLogger({ level: 'debug' });
      logger.debug('d');
      logger.info('i');
      logger.warn('w');
      logger.error('e');
    } finally {
      console.log = log;
      console.error = error;
    }
    expect(out.map((l) => JSON.parse(l).msg)).toEqual(['d', 'i']);
    expect(err.map((l) => JSON.parse(l).msg)).toEqual(['w', 'e']);
  });
});
