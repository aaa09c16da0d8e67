import type { ConsoleContext } from './context.ts';

/** The console's shared state, empty until someone logs in (the statuses come with `c`). */
export function consoleState(c: ConsoleContext): void {
  c.me = null;
  c.currentCall = null;
  c.currentCampaign = null;
  c.stream = null;
  c.flashPage = '';
  c.liveStatus = new Map();
  c.rank = (status) => c.RANK[status] ?? -1;
}
