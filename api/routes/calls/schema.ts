import { z } from '@hono/zod-openapi';
import { CallSchema, StatusSchema } from '../../calls/bodies.ts';
import { FlowStepsSchema } from '../../flows/bodies.ts';
import {
  CALL_VARIABLE_NAME,
  CALL_VARIABLE_PREFIX,
  CALLBACK_EVENTS,
  FLOW_EVENT_TYPES,
  SidecarIdSchema,
} from '../../shared/contract/index.ts';
import { PageLimitSchema, pageCursorSchema, strictBody, timeQueryParam } from '../openapi.ts';

/**
 * Call schemas. Inputs are validated without rewriting: a value that does not fit is refused,
 * never trimmed or stripped into something else that would then be dialled.
 */

export const PhoneNumberSchema = z
  .string()
  .min(7, 'must be at least 7 characters')
  .max(20, 'must be at most 20 characters')
  .regex(/^\+?[0-9]+$/, 'must be ASCII digits with an optional leading +')
  .openapi({
    description: 'Number to call: an optional + then digits, 7 to 20 characters',
    example: '+15551234000',
  });

export const ContextSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,50}$/, 'must be 1 to 50 letters, digits, _ or -')
  .openapi({
    description:
      'Dialplan context the answered call runs in; must be one the operator allows (ALLOWED_CONTEXTS)',
    example: 'outbound-ivr',
  });

export const ExtensionSchema = z
  .string()
  .regex(/^[A-Za-z0-9_*#+-]{1,50}$/, 'must be 1 to 50 letters, digits or _ * # + -')
  .openapi({ description: 'Extension in that context', example: 's' });

export const PrioritySchema = z
  .number()
  .int('must be a whole number')
  .min(1)
  .max(10)
  .openapi({ description: 'Dialplan priority (1 to 10)', example: 1 });

export const TimeoutSchema = z
  .number()
  .int('must be a whole number of milliseconds')
  .min(1)
  .max(600_000)
  .openapi({
    description:
      'How long the callee may ring, in milliseconds (1 to 600000); rounded up to whole seconds for the PBX',
    example: 30000,
  });

export const CallerIdSchema = z
  .string()
  .min(1)
  .max(50)
  .regex(/^[A-Za-z0-9 _.,'"<>()+-]+$/, 'must be letters, digits, spaces and _ . , \' " < > ( ) + -')
  .openapi({
    description: 'Caller id shown to the callee (1 to 50 characters)',
    example: 'Contact Center <5550001111>',
  });

const VARIABLE_NAME = CALL_VARIABLE_NAME;

// The control characters (Unicode category Cc) spelled out: the document generator writes a
// regular expression's flags into its pattern, which no value then matches.
const VariableRecordSchema = z
  .record(
    z
      .string()
      .regex(
        VARIABLE_NAME,
        'variable names are a letter then letters, digits or _ (at most 64): no leading _ and no function such as CALLERID()',
      ),
    z
      .string()
      .max(256)
      // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
      .regex(/^[^\x00-\x1f\x7f-\x9f]*$/, 'must not contain control characters'),
  )
  .refine((v) => Object.keys(v).length <= 20, 'at most 20 variables');

// zod drops a `__proto__` member of a record without a word: it is refused here, as any other
// name that is not a variable name, rather than taken and silently left out.
export const VariablesSchema = z
  .preprocess((value, ctx) => {
    if (typeof value === 'object' && value !== null && Object.hasOwn(value, '__proto__'))
      ctx.addIssue({
        code: 'custom',
        message: 'is not a valid name: variable names are a letter then letters, digits or _ (at most 64)',
        path: ['__proto__'],
        input: value,
      });
    return value;
  }, VariableRecordSchema)
  .openapi({
    description:
      `Variables for the dialplan or app (at most 20; names: a letter then letters, digits, _). Each reaches the ` +
      `channel as ${CALL_VARIABLE_PREFIX}<name> (CAMPAIGN is \${${CALL_VARIABLE_PREFIX}CAMPAIGN} in the dialplan), so ` +
      'none can change a dialplan global or a variable Asterisk reads itself',
    example: { CAMPAIGN: 'spring-2026', CONTACT_ID: '7' },
    // The generator leaves out the key schema and the refinement; the document states both.
    // propertyNames is OpenAPI 3.1, which the generator's metadata type does not know.
    ...({ propertyNames: { type: 'string', pattern: VARIABLE_NAME.source } } as object),
    maxProperties: 20,
  });

export const StatusCallbackSchema = z
  .string()
  .max(2048)
  // URL parsing forgives what a URI may not hold (surrounding or inner spaces, control characters,
  // non-ASCII) and z.url() trims what it forgives; checked first, the value is taken as given or not.
  .regex(
    /^(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$/,
    'must be a URL of URI characters only (RFC 3986): no spaces, control characters or non-ASCII',
  )
  .pipe(z.url({ protocol: /^https?$/ }))
  .openapi({
    description:
      'URL that receives signed status webhooks for this call: https, on an allowed port (443 by default), ' +
      'on a host of the public internet (no loopback, private, link-local or metadata address, in any form)',
    example: 'https://example.com/hooks/outdial',
    format: 'uri',
  });

export const StatusCallbackEventsSchema = z
  .array(z.enum(CALLBACK_EVENTS))
  .min(1)
  .max(CALLBACK_EVENTS.length)
  .openapi({
    description:
      'What triggers a webhook: statuses (a call.status webhook when the call reaches one; default: every ' +
      `status change) and flow events (${FLOW_EVENT_TYPES.join(', ')}: a call.flow webhook for each, only when listed)`,
    example: ['answered', 'completed', 'failed', 'flow_ended'],
  });

const originateFields = {
  context: ContextSchema.optional(),
  extension: ExtensionSchema.optional(),
  priority: PrioritySchema.optional(),
  timeout: TimeoutSchema.optional(),
  caller_id: CallerIdSchema.optional(),
  variables: VariablesSchema.optional(),
};

// The original route: its callers send fields it never had, which are taken and ignored (and logged).
export const InteractionBodySchema = z.looseObject(originateFields).openapi('InteractionRequest');
export const INTERACTION_FIELDS = originateFields;

export const CreateCallBodySchema = strictBody({
  phone_number: PhoneNumberSchema,
  ...originateFields,
  status_callback: StatusCallbackSchema.optional(),
  status_callback_events: StatusCallbackEventsSchema.optional(),
  flow: FlowStepsSchema.optional(),
  flow_id: z.uuid('must be a UUID').optional().openapi({
    description: 'A saved flow (see /api/v2/flows) the call runs once answered; not with `flow`',
    example: '0b7d6f0e-3f7c-4d8e-9c39-5d8c2a4e1f10',
  }),
  flow_version: z
    .number()
    .int('must be a whole number')
    .min(1)
    .max(2_147_483_647)
    .optional()
    .openapi({ description: 'Which version of `flow_id` (default: its latest)', example: 2 }),
  sidecar_id: SidecarIdSchema.optional().openapi({
    description:
      'The sidecar (and so the PBX) that places the call, one of those the API is configured with ' +
      '(`SIDECARS`); without it the API picks the least loaded one that is up',
    example: 'east',
  }),
}).openapi('CreateCallRequest');

export const CallIdParamSchema = z.object({
  call_id: z.uuid('must be a UUID').openapi({
    param: { name: 'call_id', in: 'path' },
    description: 'The call id',
    example: '5b0f8c1e-4d0a-4a53-9f0e-0c8a4f1f6a2b',
  }),
});

export const IdempotencyHeaderSchema = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1 to 255 visible ASCII characters')
    .optional()
    .openapi({
      param: { name: 'idempotency-key', in: 'header' },
      description:
        'Makes the request safe to retry: the same key with the same body returns the stored response for 24 h; the same key with another body is a 422; while the first request runs, 409',
      example: 'order-7781-call-1',
    }),
});

export const ListCallsQuerySchema = z.object({
  status: StatusSchema.optional().openapi({ param: { name: 'status', in: 'query' } }),
  phone_number: PhoneNumberSchema.optional().openapi({ param: { name: 'phone_number', in: 'query' } }),
  created_after: timeQueryParam('created_after', 'Only calls created at or after', '2026-11-01T00:00:00Z'),
  created_before: timeQueryParam('created_before', 'Only calls created at or before', '2026-12-01T00:00:00Z'),
  limit: PageLimitSchema,
  cursor: pageCursorSchema('eyJ0IjoiMjAyNi0xMS0yM1QxNToyMzo1MS4yMTNaIiwiaSI6IjViMGY4YzFlIn0'),
});

export const CallListSchema = z
  .object({
    items: z.array(CallSchema).openapi({ description: 'Calls, newest first' }),
    next_cursor: z
      .string()
      .nullable()
      .openapi({ description: 'Pass as `cursor` for the next page; null on the last page', example: null }),
  })
  .openapi('CallList');
