import { createRoute } from '@hono/zod-openapi';
import { applyCampaignAction } from '../../../db/queries/campaigns.ts';
import { CampaignSchema } from '../../campaigns/bodies.ts';
import { CAMPAIGN_ACTIONS, type CampaignAction } from '../../shared/contract/index.ts';
import { type App, errorResponses, guarded } from '../openapi.ts';
import { auditCampaign, CampaignIdParamSchema, campaignBody, findCampaign, stateConflict } from './schema.ts';

/** What each action does, for the document. */
const ACTIONS: Record<CampaignAction, { summary: string; description: string }> = {
  start: {
    summary: 'Start a campaign',
    description:
      'A `draft` campaign becomes `running`: its due contacts are called inside their windows, at its pace. ' +
      'A campaign without contacts may start; it completes when nothing is left to call.',
  },
  pause: {
    summary: 'Pause a campaign',
    description:
      'A `running` campaign becomes `paused`: no new attempt is leased from now on; calls already dialling ' +
      'finish and are counted. Its settings may then be changed.',
  },
  resume: {
    summary: 'Resume a campaign',
    description: 'A `paused` campaign runs again, with its settings as they now are.',
  },
  cancel: {
    summary: 'Cancel a campaign',
    description:
      'A `draft`, `running` or `paused` campaign becomes `canceled`, for good: its pending contacts end ' +
      '`canceled` (the counters move in the same transaction), calls already dialling finish.',
  },
};

function actionRoute(action: CampaignAction) {
  const from = CAMPAIGN_ACTIONS[action].from.map((s) => `\`${s}\``).join(', ');
  return createRoute({
    method: 'post',
    path: `/api/v2/campaigns/{campaign_id}/${action}`,
    tags: ['Campaigns'],
    summary: ACTIONS[action].summary,
    description:
      `${ACTIONS[action].description} Allowed from ${from}; from any other state 409 \`campaign_state\` ` +
      'naming the state. With a `status_callback`, the change is POSTed there as a `campaign.state` webhook ' +
      '(CampaignWebhook), written in the same transaction. Actions racing on one campaign take effect one after the other, each on the state ' +
      'the one before left.',
    ...guarded('campaigns:write', 'admin', 'operator'),
    request: { params: CampaignIdParamSchema },
    responses: {
      200: {
        description: 'The campaign in its new state',
        content: { 'application/json': { schema: CampaignSchema } },
      },
      ...errorResponses(401, 403, 404, 409, 422, 500, 503),
    },
  });
}

export const registerCampaignActions = (app: App) => {
  for (const action of Object.keys(CAMPAIGN_ACTIONS) as CampaignAction[]) {
    app.openapi(actionRoute(action), async (c) => {
      const campaign = await findCampaign(c, c.req.valid('param').campaign_id, 'write');
      const moved = await applyCampaignAction(c.get('services').db, campaign.id, action);
      const from = CAMPAIGN_ACTIONS[action].from.join(', ');
      if (!moved.ok) throw stateConflict(moved.state, `${action} is allowed from ${from}`);
      // Its campaign.state webhook is written: the dispatcher (and the live stream) look now.
      c.get('services').eventsRecorded();
      await auditCampaign(c, `campaign.${action}`, campaign.id, {
        state: moved.campaign.state,
        ...(action === 'cancel' ? { canceled_contacts: moved.canceledContacts } : {}),
      });
      return c.json(await campaignBody(c, moved.campaign), 200);
    });
  }
};
