// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} here is Asterisk dialplan syntax, not JS.
import { describe, expect, test } from 'bun:test';
import { findExtension, SIM_DIALPLAN, substitute } from './dialplan.ts';

const exists = (context: string, exten: string) => findExtension(SIM_DIALPLAN, context, exten) !== undefined;

describe('findExtension', () => {
  test('numbers need two characters and may start with +', () => {
    expect(exists('sim-callee', '555123400')).toBe(true);
    expect(exists('sim-callee', '55')).toBe(true);
    expect(exists('sim-callee', '5')).toBe(false);
    expect(exists('sim-callee', '+15551234000')).toBe(true);
    expect(exists('sim-callee', '+1')).toBe(false);
    expect(exists('sim-callee', 'abc')).toBe(false);
    expect(exists('sim-callee', 's')).toBe(false);
    expect(exists('sim-trunk', '555123401')).toBe(true);
  });

  test('like _X. in Asterisk, anything after the first digit matches, a space too', () => {
    expect(exists('sim-callee', '555 1234000')).toBe(true);
  });

  test('unknown contexts and the default context', () => {
    expect(exists('nonexistent-context', '555123400')).toBe(false);
    expect(exists('sim-callee@outbound-ivr', '555123400')).toBe(false);
    expect(findExtension(SIM_DIALPLAN, 'default', '5551234000')?.map(([app]) => app)).toEqual([
      'NoOp',
      'Hangup',
    ]);
  });

  test('literal extensions win over patterns', () => {
    expect(findExtension(SIM_DIALPLAN, 'sim-trunk-outcome', '1')?.at(-1)).toEqual(['Hangup', '17']);
    expect(findExtension(SIM_DIALPLAN, 'sim-trunk-outcome', '5')).toEqual([
      ['Goto', 'sim-outcome,${EXTEN},1'],
    ]);
    expect(exists('sim-trunk-outcome', '12')).toBe(false);
  });

  test('outbound-ivr has s and play only', () => {
    expect(exists('outbound-ivr', 's')).toBe(true);
    expect(exists('outbound-ivr', 'play')).toBe(true);
    expect(exists('outbound-ivr', 'nosuchexten')).toBe(false);
  });
});

describe('substitute', () => {
  const vars: Record<string, string> = {
    EXTEN: '555123406',
    SIM_DIALED: '+15551234000',
    'CALLERID(all)': '"A" <1>',
  };
  const lookup = (name: string) => vars[name];

  test('variables, offsets and functions', () => {
    expect(substitute('sim-outcome,${EXTEN:-1},1', lookup)).toBe('sim-outcome,6,1');
    expect(substitute('${EXTEN:0:3}-${EXTEN:3}', lookup)).toBe('555-123406');
    expect(substitute('sim-callee ${SIM_DIALED}: busy', lookup)).toBe('sim-callee +15551234000: busy');
    expect(substitute('callerid=${CALLERID(all)}', lookup)).toBe('callerid="A" <1>');
  });

  test('an unset variable is empty', () => {
    expect(substitute('[${NOPE}]', lookup)).toBe('[]');
  });

  test('inner expressions first', () => {
    expect(substitute('${EXTEN:${OFFSET}}', (n) => (n === 'OFFSET' ? '-2' : vars[n]))).toBe('06');
  });
});
