import { z } from '@hono/zod-openapi';
import {
  ACTIVE_STATUSES,
  CALL_EVENT_TYPES,
  CALL_STATUSES,
  CALL_VARIABLE_PREFIX,
  UNCOMPLETED_STATUSES,
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

export const CallSchema = z
  .object({
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
      description: CALL_EVENT_TYPES.join(', '),
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
  })
  .openapi('CallEvent');
