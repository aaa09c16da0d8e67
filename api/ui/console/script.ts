import {
  ATTEMPT_OUTCOMES,
  CAMPAIGN_ACTIONS,
  STATUS_RANK,
  TERMINAL_STATUSES,
  WEEKDAYS,
} from '../../shared/contract/index.ts';
import { pageScript } from '../page-script.ts';
import { consoleApi } from './api.client.ts';
import { consoleCall } from './call.client.ts';
import { consoleCalls } from './calls.client.ts';
import { consoleCampaign } from './campaign.client.ts';
import { consoleCampaignChart } from './campaign-chart.client.ts';
import { consoleCampaigns } from './campaigns.client.ts';
import type { ConsoleContext } from './context.ts';
import { consoleFlow } from './flow.client.ts';
import { consoleSession } from './session.client.ts';
import { consoleSidecars } from './sidecars.client.ts';
import { consoleState } from './state.client.ts';
import { consoleStream } from './stream.client.ts';
import { consoleUsers } from './users.client.ts';
import { consoleView } from './view.client.ts';

/**
 * The browser half of /console, served as one script with no build step (see pageScript): each
 * module's function is written out as its source text and called on one shared context, so a
 * module must use nothing from outside its own body but its argument and browser globals (see
 * ./context.ts). It only speaks the public JSON API, with the token in sessionStorage.
 */
const MODULES: ((c: ConsoleContext) => void)[] = [
  consoleState,
  consoleView,
  consoleApi,
  consoleSession,
  consoleStream,
  consoleCalls,
  consoleCall,
  consoleFlow,
  consoleCampaigns,
  consoleCampaign,
  consoleCampaignChart,
  consoleUsers,
  consoleSidecars,
];

/** The statuses and campaign rules, as the contract defines them: the script is written out from it. */
const CONSTANTS: Pick<ConsoleContext, 'FINAL' | 'RANK' | 'CAMPAIGN_ACTIONS' | 'WEEKDAYS' | 'OUTCOMES'> = {
  FINAL: [...TERMINAL_STATUSES],
  RANK: STATUS_RANK,
  CAMPAIGN_ACTIONS: Object.fromEntries(Object.entries(CAMPAIGN_ACTIONS).map(([a, rule]) => [a, rule.from])),
  WEEKDAYS,
  OUTCOMES: ATTEMPT_OUTCOMES,
};

/** Runs once every module is set up: follows the hash and starts with the session in this tab. */
function consoleMain(c: ConsoleContext): void {
  window.addEventListener('hashchange', () => c.route());
  void c.start();
}

export const CONSOLE_JS = pageScript([
  `const c = ${JSON.stringify(CONSTANTS)};`,
  ...[...MODULES, consoleMain].map((m) => `(${m.toString()})(c);`),
]);
