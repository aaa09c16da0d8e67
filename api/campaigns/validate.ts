import type { Config } from '../config.ts';
import { ApiError } from '../errors.ts';
import { resolveCallFlow } from '../flows/resolve.ts';
import type { Services } from '../services.ts';
import type { FieldError } from '../shared/contract/index.ts';
import { checkWebhookUrl, webhookPolicy } from '../webhooks/policy.ts';

/**
 * What a campaign's body is checked against beyond its schema: the configuration (allowed contexts,
 * pacing bounds), the saved flows its owner may use, and fields read together (ends after starts).
 */

/** Whether `zone` is an IANA time zone this runtime knows (`America/New_York`, `UTC`). */
export function isTimeZone(zone: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+/-]{0,63}$/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const fieldError = (field: string, message: string, code: string): FieldError => ({
  path: `body.${field}`,
  pointer: `/${field}`,
  message,
  code,
});

function refuse(errors: FieldError[]): ApiError {
  return new ApiError('validation_error', errors.map((e) => `${e.path}: ${e.message}`).join('; '), {
    errors,
  });
}

/** What answered calls of the campaign do: a saved flow's version, or a dialplan target. */
export interface CampaignTarget {
  flowId: string | null;
  flowVersion: number | null;
  context: string | null;
  extension: string | null;
  priority: number | null;
}

export interface TargetRequest {
  flow_id?: string | undefined;
  flow_version?: number | undefined;
  context?: string | undefined;
  extension?: string | undefined;
  priority?: number | undefined;
}

/** Whether a body names what answered calls do (and so replaces what the campaign had). */
export function namesTarget(body: TargetRequest): boolean {
  return [body.flow_id, body.flow_version, body.context, body.extension, body.priority].some(
    (v) => v !== undefined,
  );
}

/**
 * The target a body names: a saved flow (`flow_id`, and `flow_version` or the flow's latest version,
 * which is then kept: a newer version does not change a campaign), which `flowOwner` may use (null:
 * any) and which is not archived; or the dialplan's `context` (one of ALLOWED_CONTEXTS), `extension`
 * and `priority`, each defaulting as for a call. Not both.
 */
export async function resolveCampaignTarget(
  services: Pick<Services, 'db' | 'config'>,
  body: TargetRequest,
  flowOwner: string | null,
): Promise<CampaignTarget> {
  const dialplan = (['context', 'extension', 'priority'] as const).filter((k) => body[k] !== undefined);
  if (body.flow_id !== undefined && dialplan.length > 0) {
    const message =
      'give a saved flow (flow_id) or a dialplan target (context, extension, priority), not both';
    throw refuse([
      fieldError('flow_id', message, 'conflict'),
      ...dialplan.map((k) => fieldError(k, message, 'conflict')),
    ]);
  }
  const flow = await resolveCallFlow(
    services,
    { flowId: body.flow_id, flowVersion: body.flow_version },
    flowOwner,
  );
  if (flow)
    return {
      flowId: flow.flowId,
      flowVersion: flow.flowVersion,
      context: null,
      extension: null,
      priority: null,
    };
  const { config } = services;
  const context = body.context ?? config.DEFAULT_CONTEXT;
  if (!config.ALLOWED_CONTEXTS.includes(context))
    throw refuse([fieldError('context', 'is not an allowed context', 'not_allowed')]);
  return {
    flowId: null,
    flowVersion: null,
    context,
    extension: body.extension ?? config.DEFAULT_EXTENSION,
    priority: body.priority ?? config.DEFAULT_PRIORITY,
  };
}

/** Pacing within what the operator of the service allows, and an end after the start. */
export function checkCampaignBounds(
  config: Pick<Config, 'CAMPAIGN_MAX_CPS' | 'CAMPAIGN_MAX_CONCURRENT'>,
  settings: { cps: number; maxConcurrent: number; startsAt: Date | null; endsAt: Date | null },
  given: { starts_at?: unknown; ends_at?: unknown },
): void {
  const errors: FieldError[] = [];
  if (settings.cps > config.CAMPAIGN_MAX_CPS)
    errors.push(
      fieldError('cps', `must be at most ${config.CAMPAIGN_MAX_CPS} (CAMPAIGN_MAX_CPS)`, 'too_big'),
    );
  if (settings.maxConcurrent > config.CAMPAIGN_MAX_CONCURRENT)
    errors.push(
      fieldError(
        'max_concurrent',
        `must be at most ${config.CAMPAIGN_MAX_CONCURRENT} (CAMPAIGN_MAX_CONCURRENT)`,
        'too_big',
      ),
    );
  if (settings.startsAt && settings.endsAt && settings.endsAt <= settings.startsAt) {
    // Point at the field this request gave; with both given, at the end.
    const field = given.ends_at === undefined && given.starts_at !== undefined ? 'starts_at' : 'ends_at';
    errors.push(fieldError(field, 'ends_at must be after starts_at', 'out_of_order'));
  }
  if (errors.length > 0) throw refuse(errors);
}

/** A campaign's `status_callback` is held to what a call's is (WEBHOOK_ALLOWED_PORTS, no private address). */
export function checkCampaignCallback(
  config: Pick<Config, 'WEBHOOK_ALLOW_LOOPBACK' | 'WEBHOOK_ALLOWED_PORTS'>,
  url: string | null | undefined,
): void {
  if (!url) return;
  const why = checkWebhookUrl(url, webhookPolicy(config));
  if (why) throw refuse([fieldError('status_callback', why, 'not_allowed')]);
}
