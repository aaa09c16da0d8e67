/**
 * The typed client at work: log in, place a call, follow it to its final status, print its event log.
 *
 *   OUTDIAL_URL=https://outdial.example.com OUTDIAL_USERNAME=alice OUTDIAL_PASSWORD=… \
 *   PHONE_NUMBER=+15551234000 bun api/client/example.ts
 *
 * The call is placed with an Idempotency-Key and followed on the live stream (resumed with
 * Last-Event-ID whenever it drops), as the package's README example does on plain Node.
 * Exits 0 when the call ended completed, 1 when it ended otherwise, 2 on a usage or API error.
 */

import {
  type CallEvent,
  createOutdialClient,
  followCall,
  isFinalStatus,
  isOutdialError,
  login,
  placeCall,
  unwrap,
} from './index.ts';

export interface ExampleOptions {
  url: string;
  username: string;
  password: string;
  phoneNumber: string;
  /** Give up following after this long. */
  followMs?: number;
  print?: (line: string) => void;
}

function describeEvent(e: CallEvent): string {
  const why = [e.reason, e.hangup_cause === null ? null : `cause ${e.hangup_cause}`, e.dial_status]
    .filter(Boolean)
    .join(', ');
  return `${String(e.sequence).padStart(3)}  ${e.time}  ${e.type.padEnd(16)} ${e.status}${why ? ` (${why})` : ''}`;
}

/** Runs the example; resolves to the call's final status. */
export async function runExample(options: ExampleOptions): Promise<string> {
  const print = options.print ?? console.log;
  const anonymous = createOutdialClient({ baseUrl: options.url });
  const { access_token } = await login(anonymous, options.username, options.password);
  const api = createOutdialClient({ baseUrl: options.url, token: access_token });
  const me = unwrap(await api.GET('/api/v2/me'));
  print(`logged in as ${me.username} (${me.role})`);

  const { call: placed } = await placeCall(api, { phone_number: options.phoneNumber });
  print(
    `call ${placed.call_id} to ${placed.phone_number}: ${placed.status}${placed.error ? ` (${placed.error})` : ''}`,
  );
  const final = isFinalStatus(placed.status)
    ? placed.status
    : (
        await followCall(api, placed.call_id, {
          onEvent: (e) => print(`  ${e.status}${e.reason ? ` (${e.reason})` : ''}`),
          signal: AbortSignal.timeout(options.followMs ?? 5 * 60_000),
        })
      ).status;

  const log = unwrap(
    await api.GET('/api/v2/calls/{call_id}/events', { params: { path: { call_id: placed.call_id } } }),
  );
  print(`final status: ${final}`);
  print('event log:');
  for (const e of log.events) print(describeEvent(e));
  return final;
}

if (import.meta.main) {
  const env = process.env;
  const missing = ['OUTDIAL_URL', 'OUTDIAL_USERNAME', 'OUTDIAL_PASSWORD', 'PHONE_NUMBER'].filter(
    (n) => !env[n],
  );
  if (missing.length > 0) {
    console.error(`set ${missing.join(', ')}`);
    process.exit(2);
  }
  try {
    const final = await runExample({
      url: env.OUTDIAL_URL!,
      username: env.OUTDIAL_USERNAME!,
      password: env.OUTDIAL_PASSWORD!,
      phoneNumber: env.PHONE_NUMBER!,
    });
    process.exit(final === 'completed' ? 0 : 1);
  } catch (error) {
    console.error(isOutdialError(error) ? `the API answered ${error.message}` : error);
    process.exit(2);
  }
}
