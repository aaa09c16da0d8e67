import { createRoute, z } from '@hono/zod-openapi';
import { endedAttemptsPerMinute } from '../../../db/queries/campaigns.ts';
import { ATTEMPT_OUTCOMES } from '../../shared/contract/index.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { CampaignIdParamSchema, findCampaign } from './schema.ts';

const MINUTE_MS = 60_000;
/** A day of minutes: the most a chart asks for. */
const MAX_MINUTES = 1440;
const MINUTES_WORDS = `must be a whole number from 1 to ${MAX_MINUTES}`;

const TimelineQuerySchema = z.object({
  minutes: z
    .string()
    .regex(/^[0-9]{1,4}$/, MINUTES_WORDS)
    .optional()
    .transform((v) => (v === undefined ? 60 : Number(v)))
    .pipe(z.number().int().min(1, MINUTES_WORDS).max(MAX_MINUTES, MINUTES_WORDS))
    .openapi({
      param: { name: 'minutes', in: 'query' },
      type: 'integer',
      minimum: 1,
      maximum: MAX_MINUTES,
      default: 60,
      description: `How many minutes back, the current one included (1 to ${MAX_MINUTES}, default 60)`,
      example: 60,
    }),
});

const OutcomeCountsSchema = z
  .object(
    Object.fromEntries(
      ATTEMPT_OUTCOMES.map((o) => [
        o,
        z
          .number()
          .int()
          .openapi({ description: `Attempts that ended ${o} in this minute`, example: 0 }),
      ]),
    ) as Record<(typeof ATTEMPT_OUTCOMES)[number], z.ZodNumber>,
  )
  .openapi('CampaignMinuteCounts');

const TimelineSchema = z
  .object({
    campaign_id: z
      .uuid()
      .openapi({ description: 'The campaign', example: '3c1a9e4f-5b6d-4e7f-8a9b-0c1d2e3f4a5b' }),
    minutes: z.number().int().openapi({ description: 'How many minutes the buckets cover', example: 60 }),
    from: z
      .string()
      .openapi({ description: 'Start of the first minute', example: '2026-11-23T14:24:00.000Z' }),
    to: z
      .string()
      .openapi({ description: 'End of the last minute (excluded)', example: '2026-11-23T15:24:00.000Z' }),
    outcomes: z.array(z.enum(ATTEMPT_OUTCOMES)).openapi({
      description: 'The outcomes counted, in the order a chart stacks them',
      example: [...ATTEMPT_OUTCOMES],
    }),
    buckets: z
      .array(
        z.object({
          start: z
            .string()
            .openapi({ description: 'The minute’s start', example: '2026-11-23T15:23:00.000Z' }),
          counts: OutcomeCountsSchema,
        }),
      )
      .openapi({ description: 'One per minute, oldest first, every minute present (0 where none ended)' }),
  })
  .openapi('CampaignTimeline');

export const campaignTimelineRoute = createRoute({
  method: 'get',
  path: '/api/v2/campaigns/{campaign_id}/timeline',
  tags: ['Campaigns'],
  summary: 'A campaign’s outcomes per minute',
  description:
    'The campaign’s attempts that ended in each of the last `minutes` whole minutes (UTC, by the API’s clock, ' +
    'the current minute so far included), counted by outcome: what a chart of its progress draws. Campaigns ' +
    'of other users answer 404 (admins and viewers see every campaign).',
  ...guarded('campaigns:read'),
  request: { params: CampaignIdParamSchema, query: TimelineQuerySchema },
  responses: {
    200: {
      description: 'Ended attempts per minute and outcome',
      content: { 'application/json': { schema: TimelineSchema } },
    },
    ...errorResponses(401, 403, 404, 422, 500, 503),
  },
});

export const registerCampaignTimeline = (app: App) =>
  app.openapi(campaignTimelineRoute, async (c) => {
    const campaign = await findCampaign(c, c.req.valid('param').campaign_id, 'read');
    const { minutes } = c.req.valid('query');
    const { db, now } = c.get('services');
    const to = Math.floor(now().getTime() / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
    const from = to - minutes * MINUTE_MS;
    const rows = await endedAttemptsPerMinute(db, campaign.id, new Date(from), new Date(to));
    const buckets = Array.from({ length: minutes }, (_, i) => ({
      start: new Date(from + i * MINUTE_MS).toISOString(),
      counts: Object.fromEntries(ATTEMPT_OUTCOMES.map((o) => [o, 0])) as Record<string, number>,
    }));
    for (const r of rows) {
      const bucket = buckets[r.minute - from / MINUTE_MS];
      if (bucket && r.outcome in bucket.counts) bucket.counts[r.outcome]! += r.count;
    }
    const body = {
      campaign_id: campaign.id,
      minutes,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      outcomes: [...ATTEMPT_OUTCOMES],
      buckets,
    };
    return c.json(TimelineSchema.parse(body), 200);
  });
