import type { ConsoleContext } from './context.ts';

/** The console's shared state, empty until someone logs in. */
export function consoleState(c: ConsoleContext): void {
  c.me = null;
  c.currentCall = null;
  c.stream = null;
  c.flashPage = '';
  c.liveStatus = new Map();
  c.FINAL = ['completed', 'busy', 'no_answer', 'failed', 'canceled'];
  c.rank = (status) =>
    c.FINAL.includes(status) ? 4 : ['pending', 'dialing', 'ringing', 'answered'].indexOf(status);
}
