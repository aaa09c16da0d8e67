/** The small read-only resources: asterisk, applications, endpoints, bridges, sounds, api-docs. */
import { json, message } from './respond.ts';
import type { Handler } from './router.ts';

const HELLO_WORLD = { id: 'hello-world', formats: [{ language: 'en', format: 'gsm' }] };

const API_DOCS = [
  ['asterisk', 'Asterisk resources'],
  ['endpoints', 'Endpoint resources'],
  ['channels', 'Channel resources'],
  ['bridges', 'Bridge resources'],
  ['recordings', 'Recording resources'],
  ['sounds', 'Sound resources'],
  ['playbacks', 'Playback control resources'],
  ['deviceStates', 'Device state resources'],
  ['mailboxes', 'Mailboxes resources'],
  ['events', 'WebSocket resource'],
  ['applications', 'Stasis application resources'],
] as const;

/** A GET-only path: the answer for GET, 405 otherwise. */
const getOnly = (method: string, answer: () => Response): Response | null =>
  method === 'GET' ? answer() : null;

export const asterisk: Handler = ({ engine }, { method, segs }) => {
  if (segs.length !== 2) return undefined;
  if (segs[1] === 'info') return getOnly(method, () => json(200, engine.info()));
  if (segs[1] === 'ping') return getOnly(method, () => json(200, engine.ping()));
  return undefined;
};

export const applications: Handler = ({ engine }, { method, segs }) => {
  if (segs.length === 1) return getOnly(method, () => json(200, engine.applications()));
  const name = segs[1];
  if (segs.length !== 2 || name === undefined) return undefined;
  return getOnly(method, () => {
    const app = engine.application(name);
    return app === undefined ? message(404, 'Application not found') : json(200, app);
  });
};

export const endpoints: Handler = (_ctx, { method, segs }) =>
  segs.length === 1 ? getOnly(method, () => json(200, [])) : undefined;

export const bridges: Handler = (_ctx, { method, segs }) =>
  segs.length === 1 ? getOnly(method, () => json(200, [])) : undefined;

export const sounds: Handler = (_ctx, { method, segs }) => {
  if (segs.length === 1) return getOnly(method, () => json(200, [HELLO_WORLD]));
  if (segs.length !== 2) return undefined;
  return getOnly(method, () =>
    segs[1] === 'hello-world' ? json(200, HELLO_WORLD) : message(404, 'Sound not found'),
  );
};

export const apiDocs: Handler = (_ctx, { method, segs, url }) => {
  if (segs.length !== 2 || segs[1] !== 'resources.json') return undefined;
  return getOnly(method, () =>
    json(200, {
      _copyright: 'Copyright (C) 2012 - 2013, Digium, Inc.',
      _author: 'David M. Lee, II <dlee@digium.com>',
      _svn_revision: '$Revision$',
      apiVersion: '10.0.0',
      swaggerVersion: '1.1',
      basePath: `${url.origin}/ari`,
      apis: API_DOCS.map(([p, description]) => ({ path: `/api-docs/${p}.{format}`, description })),
    }),
  );
};
