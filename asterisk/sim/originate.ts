/**
 * Parsing and validation of POST /channels and POST /channels/{channelId}, in the order
 * res/ari/resource_channels.c checks things, so that each malformed request gets the same
 * status and message as from Asterisk 22 (recordings 50 and 51).
 */

export interface OriginateArgs {
  endpoint?: string;
  extension?: string;
  context?: string;
  priority: number;
  label?: string;
  app?: string;
  appArgs?: string;
  callerId?: string;
  /** As parsed: 0 means "use the default of 30 s", -1 means no timeout. */
  timeout: number;
  channelId?: string;
  otherChannelId?: string;
  originator?: string;
  formats?: string;
  variables: Array<[string, string]>;
}

export interface ArgError {
  status: number;
  body: Record<string, unknown>;
}

const error = (status: number, message: string): ArgError => ({ status, body: { message } });

/** C atoi(): leading blanks, an optional sign and digits; anything else reads as 0. */
export const atoi = (s: string): number => {
  const m = /^[\s]*([+-]?\d+)/.exec(s);
  if (!m) return 0;
  const n = Number.parseInt(m[1] as string, 10);
  return Number.isFinite(n) ? Math.trunc(Math.max(-2147483648, Math.min(2147483647, n))) : 0;
};

/** ast_json_string_get(): only JSON strings have a value; anything else is NULL. */
const jsonString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** ast_json_integer_get(): only JSON integers count, a string "30" or a real 30.5 reads as 0. */
const jsonInteger = (v: unknown): number => (typeof v === 'number' && Number.isInteger(v) ? v : 0);

type Body = { kind: 'none' } | { kind: 'json'; value: unknown };

/** The originate parameters res_ari_channels.c reads as C strings; priority and timeout are integers. */
const STRING_FIELDS = [
  'endpoint',
  'extension',
  'context',
  'label',
  'app',
  'appArgs',
  'callerId',
  'channelId',
  'otherChannelId',
  'originator',
  'formats',
] as const;
const INTEGER_FIELDS = ['priority', 'timeout'] as const;

/**
 * Builds the arguments from the query string and the body. Like the generated
 * res_ari_channels.c, every field present in a JSON object body overrides the query (the last
 * of repeated query parameters wins), and with `pathChannelId` (originateWithId) the channelId
 * comes from the path only.
 */
export const parseOriginateArgs = (
  query: URLSearchParams,
  body: Body,
  pathChannelId?: string,
): OriginateArgs | ArgError => {
  const args: OriginateArgs = { priority: 0, timeout: 0, variables: [] };
  const object =
    body.kind === 'json' &&
    body.value !== null &&
    typeof body.value === 'object' &&
    !Array.isArray(body.value)
      ? (body.value as Record<string, unknown>)
      : null;
  const inBody = (name: string) => object !== null && Object.hasOwn(object, name);
  const fromQuery = (name: string) => query.getAll(name).at(-1);
  for (const name of STRING_FIELDS) {
    if (name === 'channelId' && pathChannelId !== undefined) continue;
    args[name] = inBody(name) ? jsonString(object?.[name]) : (fromQuery(name) ?? args[name]);
  }
  for (const name of INTEGER_FIELDS) {
    const q = fromQuery(name);
    if (inBody(name)) args[name] = jsonInteger(object?.[name]);
    else if (q !== undefined) args[name] = atoi(q);
  }
  if (pathChannelId !== undefined) args.channelId = pathChannelId;

  if (object !== null && Object.hasOwn(object, 'variables')) {
    const vars = object.variables;
    if (vars === null || typeof vars !== 'object' || Array.isArray(vars)) {
      return error(400, "Only string values in the 'variables' object allowed");
    }
    for (const [k, v] of Object.entries(vars)) {
      if (typeof v !== 'string') return error(400, "Only string values in the 'variables' object allowed");
      args.variables.push([k, v]);
    }
  }
  return args;
};

/** Formats Asterisk's format cache knows by name (the subset a stock build registers). */
const KNOWN_FORMATS = new Set([
  'ulaw',
  'alaw',
  'gsm',
  'g722',
  'g723',
  'g726',
  'g726aal2',
  'g729',
  'ilbc',
  'lpc10',
  'speex',
  'speex16',
  'speex32',
  'slin',
  'slin12',
  'slin16',
  'slin24',
  'slin32',
  'slin44',
  'slin48',
  'slin96',
  'slin192',
  'opus',
  'siren7',
  'siren14',
  'testlaw',
  'adpcm',
  'g719',
  'h261',
  'h263',
  'h263p',
  'h264',
  'h265',
  'mp4',
  'vp8',
  'vp9',
  'red',
  't140',
  't140red',
  'jpeg',
  'png',
  'codec2',
]);

export interface OriginatePlan {
  tech: string;
  device: string;
  args: OriginateArgs;
  /** Milliseconds before the originate gives up ringing, or null for no limit (timeout=-1). */
  timeoutMs: number | null;
  /** Stasis(...) data: "app[,appArgs]", or null for a dialplan-style originate. */
  appData: string | null;
  context: string;
  extension: string;
  priority: number;
}

const isEmpty = (s: string | undefined): s is undefined | '' => s === undefined || s === '';

/** The checks ari_channels_handle_originate_with_id makes before any channel exists. */
export const planOriginate = (args: OriginateArgs): OriginatePlan | ArgError => {
  if ((args.channelId?.length ?? 0) > 149 || (args.otherChannelId?.length ?? 0) > 149) {
    return error(400, 'Uniqueid length exceeds maximum of 149');
  }
  if (isEmpty(args.endpoint)) return error(400, 'Endpoint must be specified');
  if (!isEmpty(args.originator) && !isEmpty(args.formats)) {
    return error(400, "Originator and formats can't both be specified");
  }
  const slash = args.endpoint.indexOf('/');
  const tech = slash < 0 ? args.endpoint : args.endpoint.slice(0, slash);
  const device = slash < 0 ? '' : args.endpoint.slice(slash + 1);
  if (tech === '' || device === '') return error(400, 'Invalid endpoint specified');

  let appData: string | null = null;
  let context = '';
  let extension = '';
  let priority = 1;
  if (!isEmpty(args.app)) {
    appData = isEmpty(args.appArgs) ? args.app : `${args.app},${args.appArgs}`;
  } else if (!isEmpty(args.extension)) {
    context = isEmpty(args.context) ? 'default' : args.context;
    extension = args.extension;
    if (!isEmpty(args.label)) {
      const numeric = /^\s*[+-]?\d+/.exec(args.label);
      // The simulated dialplan has no labels, so only a numeric label can name a priority.
      if (!numeric) return error(404, 'Requested label can not be found');
      priority = atoi(args.label);
      if (priority === 0) return error(400, 'Requested priority is illegal');
    } else {
      priority = args.priority ? args.priority : 1;
    }
  } else {
    return error(400, 'Application or extension must be specified');
  }

  const timeoutMs = args.timeout > 0 ? args.timeout * 1000 : args.timeout === -1 ? null : 30_000;

  if (!isEmpty(args.formats)) {
    for (const raw of args.formats.split(',')) {
      const name = raw.trim();
      if (!KNOWN_FORMATS.has(name)) return error(400, `Provided format (${name}) was not found`);
    }
  }
  return { tech, device, args, timeoutMs, appData, context, extension, priority };
};

/** ast_callerid_parse() plus ast_shrink_phone_number(): `"Name" <num>`, `Name <num>`, `num` or `Name`. */
export const parseCallerId = (input: string): { name: string; number: string } => {
  const unquote = (s: string) => {
    const t = s.trim();
    return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
  };
  const text = unquote(input);
  let name = '';
  let number = '';
  const lt = text.lastIndexOf('<');
  if (lt >= 0) {
    const gt = text.indexOf('>', lt);
    number = text.slice(lt + 1, gt < 0 ? undefined : gt).trim();
    name = unquote(text.slice(0, lt));
  } else if (/^[0-9*#+\-().\s]+$/.test(text)) {
    number = text.trim();
  } else {
    name = text.trim();
  }
  if (/^[0-9*#+\-().\s]+$/.test(number) && /\d/.test(number)) {
    number = number.replace(/[\s\-().]/g, '');
  }
  return { name, number };
};
