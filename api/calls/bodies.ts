import { z } from '@hono/zod-openapi';
import {
  ACTIVE_STATUSES,
  ANSWERED_BY,
  CALL_EVENT_TYPES,
  CALL_STATUSES,
  CALL_VARIABLE_PREFIX,
  FLOW_EVENT_TYPES,
  FLOW_OUTCOMES,
  FLOW_VERBS,
  type FlowVerb,
  UNCOMPLETED_STATUSES,
  WEBHOOK_KINDS,
} from '../shared/contract/index.ts';

/**
 * The bodies the API answers about calls: a call, its events, the reply to an originate. Routes
 * declare them in the OpenAPI document; api/calls/present.ts builds them from database rows.
 */

export const StatusSchema = z.enum(CALL_STATUSES).openapi({
  description: `${ACTIVE_STATUSES.join(' → ')} → completed; other final statuses: ${UNCOMPLETED_STATUSES.join(', ')}`,
  example: 'dialing',
});

const isoOrNull = (description: string) =>
  z.iso.datetime({ offset: true }).nullable().openapi({ description, example: '2026-11-23T15:23:51.213Z' });

export const OriginateResponseSchema = z
  .object({
    success: z.boolean().openapi({ description: 'Whether the PBX accepted the call', example: true }),
    call_id: z.uuid().openapi({
      description: 'The call id (also the ARI channel id)',
      example: '5b0f8c1e-4d0a-4a53-9f0e-0c8a4f1f6a2b',
    }),
    phone_number: z.string().openapi({ description: 'The number being called', example: '+15551234000' }),
    message: z.string().openapi({ description: 'What happened, in words', example: 'Call is dialing' }),
    channel: z.string().nullable().openapi({
      description: 'ARI channel name, once known',
      example: 'Local/+15551234000@outbound-trunk-0000001a;1',
    }),
    status: StatusSchema,
    created_at: z.iso
      .datetime({ offset: true })
      .openapi({ description: 'When the call was accepted', example: '2026-11-23T15:23:51.213Z' }),
    error: z
      .string()
      .nullable()
      .openapi({ description: 'Why the PBX refused the call, if it did', example: null }),
    reason: z
      .string()
      .nullable()
      .openapi({ description: 'Machine-readable reason for a failure', example: null }),
  })
  .openapi('OriginateResponse');
export type OriginateResponse = z.infer<typeof OriginateResponseSchema>;

/** A call as the replaced service's status routes show it: their contract, kept as it was. */
const legacyCallFields = {
  call_id: z.uuid().openapi({
    description: 'The call id (also the ARI channel id)',
    example: '5b0f8c1e-4d0a-4a53-9f0e-0c8a4f1f6a2b',
  }),
  phone_number: z.string().openapi({ description: 'The number called', example: '+15551234000' }),
  status: StatusSchema,
  channel: z
    .string()
    .nullable()
    .openapi({ description: 'ARI channel name', example: 'Local/+15551234000@outbound-trunk-0000001a;1' }),
  context: z
    .string()
    .openapi({ description: 'Dialplan context of the answered call', example: 'outbound-ivr' }),
  extension: z.string().openapi({ description: 'Extension', example: 's' }),
  priority: z.number().int().openapi({ description: 'Priority', example: 1 }),
  timeout: z.number().int().openapi({ description: 'Ring timeout in milliseconds', example: 30000 }),
  caller_id: z
    .string()
    .nullable()
    .openapi({ description: 'Caller id', example: 'Contact Center <5550001111>' }),
  variables: z.record(z.string(), z.string()).openapi({
    description: `The variables as given; on the channel each is ${CALL_VARIABLE_PREFIX}<name>`,
    example: { CAMPAIGN: 'spring-2026' },
  }),
  created_at: z.iso
    .datetime({ offset: true })
    .openapi({ description: 'When the call was accepted', example: '2026-11-23T15:23:51.213Z' }),
  updated_at: z.iso
    .datetime({ offset: true })
    .openapi({ description: 'Last change', example: '2026-11-23T15:23:55.001Z' }),
  dialed_at: isoOrNull('When the PBX accepted the originate'),
  answered_at: isoOrNull('When the callee answered'),
  ended_at: isoOrNull('When the call reached its final status'),
  duration: z.number().nullable().openapi({
    description: 'Seconds from answer to end (null if never answered or still up)',
    example: 4.012,
  }),
  failure_reason: z
    .string()
    .nullable()
    .openapi({
      description: `Why the call did not complete, in words (${UNCOMPLETED_STATUSES.join(', ')})`,
      example: null,
    }),
  reason: z.string().nullable().openapi({
    description:
      'Machine-readable reason: normal, hangup_requested, busy, rejected, timeout, no_answer, congestion, invalid_number, pbx_routing, pbx_unreachable, lost, …',
    example: 'normal',
  }),
  hangup_cause: z
    .number()
    .int()
    .nullable()
    .openapi({ description: 'Q.850 cause of the call leg', example: 16 }),
  hangup_cause_txt: z
    .string()
    .nullable()
    .openapi({ description: 'Text of the Q.850 cause', example: 'Normal Clearing' }),
  dial_status: z
    .string()
    .nullable()
    .openapi({ description: 'Last ARI Dial status (RINGING, ANSWER, BUSY, …)', example: 'ANSWER' }),
  attempt_number: z.number().int().openapi({ description: 'Attempt number (1 for the first)', example: 1 }),
  is_active: z.boolean().openapi({ description: 'Not yet in a final status', example: false }),
  is_completed: z.boolean().openapi({ description: 'In a final status', example: true }),
  hangup_requested_at: isoOrNull('When a hang-up was requested through the API'),
  owner_id: z.uuid().openapi({
    description: 'The user who created the call',
    example: '8f7e6d5c-4b3a-4291-8a7b-6c5d4e3f2a1b',
  }),
  status_callback: z.string().nullable().openapi({ description: 'Webhook URL', example: null }),
};

export const LegacyCallSchema = z.object(legacyCallFields).openapi('LegacyCall');
export type LegacyCallBody = z.infer<typeof LegacyCallSchema>;

export const FlowAnswerSchema = z
  .union([
    z.string().openapi({ description: 'Digits a gather step got, or a value a set step gave', example: '1' }),
    z
      .object({
        recording: z.string().openapi({
          description: 'The recording’s id; its audio is at /api/v2/calls/{call_id}/recordings/{name}',
          example: '5b0f8c1e-4d0a-4a53-9f0e-0c8a4f1f6a2b-message-4',
        }),
        duration_ms: z.number().int().openapi({ description: 'Its length in milliseconds', example: 4210 }),
      })
      .openapi({ description: 'What a record step recorded' }),
  ])
  .openapi('FlowAnswer');

export const FlowSummarySchema = z
  .object({
    flow_id: z.uuid().nullable().openapi({
      description: 'The saved flow the call ran, or null for steps given with the call',
      example: null,
    }),
    flow_version: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'The saved flow’s version the call ran', example: null }),
    outcome: z
      .enum(FLOW_OUTCOMES)
      .nullable()
      .openapi({
        description:
          'How the flow ended, null while it runs (or if it never started): finished, continued (handed to the ' +
          'dialplan), callee_hangup, failed (see detail), interrupted (the sidecar restarted), limit (ran too long)',
        example: 'finished',
      }),
    ended_at_step: z
      .object({
        index: z
          .number()
          .int()
          .openapi({ description: 'The step’s position in its list, from 0', example: 4 }),
        id: z.string().nullable().openapi({ description: 'The step’s id, if it has one', example: 'bye' }),
      })
      .nullable()
      .openapi({
        description: 'The step the flow was in when it ended; null while it runs',
        example: { index: 4, id: 'bye' },
      }),
    detail: z
      .string()
      .nullable()
      .openapi({ description: 'Why the flow ended as it did, in words', example: null }),
  })
  .openapi('CallFlow');

export const FlowEventDetailSchema = z
  .object({
    run: z.number().int().openapi({ description: 'The n-th step run in this call (from 1)', example: 2 }),
    segment: z.number().int().openapi({
      description: 'Which list the step is in: 0 the call’s flow, n the steps the n-th request step returned',
      example: 0,
    }),
    step: z.number().int().openapi({ description: 'The step’s position in its list, from 0', example: 1 }),
    step_id: z.string().nullable().openapi({ description: 'The step’s id, if it has one', example: 'ask' }),
    verb: z
      .enum(FLOW_VERBS as [FlowVerb, ...FlowVerb[]])
      .openapi({ description: 'The step’s verb', example: 'gather' }),
    answer: z
      .object({
        name: z.string().openapi({ description: 'The answer’s name', example: 'choice' }),
        value: FlowAnswerSchema,
      })
      .optional()
      .openapi({ description: 'step_finished of a gather, record or set: the answer it gave' }),
    answered_by: z
      .enum(ANSWERED_BY)
      .optional()
      .openapi({ description: 'step_finished of an amd step: who answered', example: 'human' }),
    outcome: z
      .enum(FLOW_OUTCOMES)
      .optional()
      .openapi({ description: 'flow_ended only: how the flow ended', example: 'finished' }),
    detail: z.string().optional().openapi({
      description: 'Why a step failed or the flow ended as it did',
      example: 'no input after 2 attempts',
    }),
  })
  .openapi('FlowEventDetail');

export const CallSchema = z
  .object({
    ...legacyCallFields,
    answers: z.record(z.string(), FlowAnswerSchema).openapi({
      description: 'What the call’s flow collected, by answer name (empty without a flow)',
      example: { choice: '1', message: { recording: '5b0f8c1e-…-message-4', duration_ms: 4210 } },
    }),
    answered_by: z.enum(ANSWERED_BY).nullable().openapi({
      description: 'Who answered, as an amd step judged it: human, machine or unknown; null without one',
      example: null,
    }),
    flow: FlowSummarySchema.nullable().openapi({
      description: 'The flow the call runs once answered, and how it ended; null when the call has none',
    }),
  })
  .openapi('Call');
export type CallBody = z.infer<typeof CallSchema>;

export const CallEventSchema = z
  .object({
    sequence: z.number().int().openapi({ description: 'Position in the call’s log (1, 2, 3…)', example: 2 }),
    id: z
      .string()
      .openapi({ description: 'Global event id; the cursor of the live event stream', example: '1042' }),
    call_id: z
      .uuid()
      .openapi({ description: 'The call id', example: '5b0f8c1e-4d0a-4a53-9f0e-0c8a4f1f6a2b' }),
    type: z.string().openapi({
      description: [...CALL_EVENT_TYPES, ...FLOW_EVENT_TYPES].join(', '),
      example: 'ringing',
    }),
    status: StatusSchema,
    time: z.iso
      .datetime({ offset: true })
      .openapi({ description: 'When it happened', example: '2026-11-23T15:23:51.300Z' }),
    reason: z.string().nullable().openapi({ description: 'Reason, for final events', example: null }),
    hangup_cause: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'Q.850 cause, for final events', example: null }),
    hangup_cause_txt: z.string().nullable().openapi({ description: 'Text of the cause', example: null }),
    dial_status: z.string().nullable().openapi({ description: 'ARI Dial status', example: 'RINGING' }),
    source: z.string().openapi({ description: 'Who reported it: api or sidecar', example: 'sidecar' }),
    flow: FlowEventDetailSchema.nullable().openapi({
      description: 'Flow events only (step_started, step_finished, flow_ended): the step and what it gave',
      example: null,
    }),
  })
  .openapi('CallEvent');

/**
 * The JSON body POSTed to a call's `status_callback`: `call.status` when its status changes,
 * `call.flow` for each flow event `status_callback_events` lists. The body is fixed when the event
 * is recorded, so `call` is the call as that event left it.
 */
export const CallWebhookSchema = z
  .object({
    type: z.enum([WEBHOOK_KINDS.status, WEBHOOK_KINDS.flow]).openapi({
      description: `${WEBHOOK_KINDS.status}: the call's status changed; ${WEBHOOK_KINDS.flow}: a step of its flow started or finished, or the flow ended`,
      example: WEBHOOK_KINDS.status,
    }),
    event_id: z.string().openapi({
      description: 'The event reported: its global id (also in Outdial-Event-Id)',
      example: '1042',
    }),
    occurred_at: z.iso
      .datetime({ offset: true })
      .openapi({ description: 'When the event happened', example: '2026-11-23T15:23:51.300Z' }),
    call: CallSchema,
    event: CallEventSchema,
  })
  .openapi('CallWebhook', {
    description:
      'The JSON body POSTed to a call’s `status_callback`, signed (Outdial-Signature); the request names the ' +
      'event in `Outdial-Event-Id`',
  });
export type CallWebhookBody = z.infer<typeof CallWebhookSchema>;
