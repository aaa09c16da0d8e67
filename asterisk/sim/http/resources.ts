/** The small resources: asterisk, applications, endpoints, bridges, sounds, api-docs. */
import { soundFile, soundNames } from '../sounds.ts';
import { json, message, reply } from './respond.ts';
import type { Handler } from './router.ts';

const soundJson = (id: string) => ({ id, formats: [{ language: 'en', format: 'gsm' }] });

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

/** POST /bridges[/{id}], GET, DELETE, addChannel, removeChannel (bridges.ts). */
export const bridges: Handler = ({ engine }, { method, segs, query }) => {
  const b = engine.bridges;
  const [, id, op] = segs;
  if (segs.length === 1) {
    if (method === 'GET') return reply(b.list());
    if (method === 'POST')
      return reply(b.create(query.get('bridgeId'), query.get('type'), query.get('name')));
    return null;
  }
  if (id === undefined) return undefined;
  if (segs.length === 2) {
    if (method === 'GET') return reply(b.get(id));
    if (method === 'POST') return reply(b.create(id, query.get('type'), query.get('name')));
    if (method === 'DELETE') return reply(b.destroy(id));
    return null;
  }
  if (segs.length === 3 && (op === 'addChannel' || op === 'removeChannel')) {
    if (method !== 'POST') return null;
    const channel = query.get('channel');
    return reply(op === 'addChannel' ? b.addChannel(id, channel) : b.removeChannel(id, channel));
  }
  return undefined;
};

export const sounds: Handler = (_ctx, { method, segs }) => {
  if (segs.length === 1) return getOnly(method, () => json(200, soundNames().map(soundJson)));
  const id = segs.slice(1).join('/');
  return getOnly(method, () => (soundFile(id) ? json(200, soundJson(id)) : message(404, 'Sound not found')));
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
