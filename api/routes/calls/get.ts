import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { getCallForReader } from '../../../db/queries/calls.ts';
import { callReadable, readableCallsOwner } from '../../calls/access.ts';
import { CallSchema } from '../../calls/bodies.ts';
import { presentCall } from '../../calls/present.ts';
import { ApiError } from '../../errors.ts';
import type { AppEnv } from '../../services.ts';
import { type App, errorResponses, guardedReadingCall } from '../openapi.ts';
import { CallIdParamSchema } from './schema.ts';

/**
 * The call if the caller may see it (readableCallsOwner). Anyone else gets the same 404. A route
 * guarded by guardedReadingCall finds the call already read with the caller's check.
 */
export async function findVisibleCall(c: Context<AppEnv>, callId: string) {
  const user = c.get('user');
  const read = c.get('callRead');
  const call =
    read?.id === callId
      ? read.call && callReadable(user, read.call)
        ? read.call
        : null
      : await getCallForReader(c.get('services').db, callId, readableCallsOwner(user));
  if (!call) throw new ApiError('call_not_found', 'Call not found');
  return call;
}

export const getCallRoute = createRoute({
  method: 'get',
  path: '/api/v2/calls/{call_id}',
  tags: ['Calls'],
  summary: 'Get a call',
  description:
    'The call with its status and outcome. Calls of other users answer 404 (admins and viewers see every call).',
  ...guardedReadingCall('calls:read', 'call_id'),
  request: { params: CallIdParamSchema },
  responses: {
    200: { description: 'The call', content: { 'application/json': { schema: CallSchema } } },
    ...errorResponses(401, 403, 404, 422, 500, 503),
  },
});

export const registerGetCall = (app: App) =>
  app.openapi(getCallRoute, async (c) => {
    const call = await findVisibleCall(c, c.req.valid('param').call_id);
    return c.json(presentCall(call), 200);
  });
