// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} here is Asterisk dialplan syntax, not JS.
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigSchema } from '../../api/config.ts';
import { generateEnv } from '../../api/deploy/generate-env.ts';
import { findExtension, SIM_DIALPLAN } from '../../asterisk/sim/dialplan.ts';
import { SidecarEnv } from '../../sidecar/config.ts';
import { AMD_APP_VARIABLE, AMD_CONTEXT, AMD_VARIABLES } from '../../sidecar/flow/dialplan.ts';
import {
  type ConfFile,
  dialplan,
  extensionMatches,
  parseConf,
  type Section,
  sectionsNamed,
  settingOf,
  valuesOf,
} from './asterisk-conf.ts';
import { completeEnv, loadCompose, parseDotenv, ROOT, serviceEnv } from './compose.ts';

/**
 * The Asterisk configuration under asterisk/ against what the sidecar and the API expect of it,
 * and the image's entrypoint that fills in the credentials. No Asterisk runs here: these are the
 * invariants a reader of the files can check.
 */

const DIR = `${ROOT}asterisk/`;
const CONF_FILES = readdirSync(DIR).filter((f) => f.endsWith('.conf'));
const conf = (name: string): ConfFile => parseConf(readFileSync(DIR + name, 'utf8'));
const general = (file: ConfFile, name = 'general'): Section => {
  const found = sectionsNamed(file, name);
  expect(found).toHaveLength(1);
  return found[0]!;
};
const yes = (v: string | undefined) => ['yes', 'true', 'on', '1'].includes((v ?? '').toLowerCase());
const no = (v: string | undefined) => ['no', 'false', 'off', '0'].includes((v ?? '').toLowerCase());

const envText = completeEnv(await generateEnv());
const composeEnv = parseDotenv(envText);
const compose = loadCompose(composeEnv);
const asteriskEnv = serviceEnv(compose.services.asterisk!);
const sidecarEnv = serviceEnv(compose.services.sidecar!);
const apiEnv = serviceEnv(compose.services.api!);

/** What the API and the sidecar will use: their defaults, overridden by docker-compose.yml. */
const apiConfig = ConfigSchema.parse({ ...apiEnv, APP_ENV: 'test' });
const sidecarSettings = SidecarEnv.partial({
  SIDECAR_PRIVATE_KEY: true,
  API_URL: true,
  API_PUBLIC_KEYS: true,
}).parse(Object.fromEntries(Object.entries(sidecarEnv).filter(([, v]) => v !== '')));
const sidecarDefaults = SidecarEnv.partial({
  SIDECAR_PRIVATE_KEY: true,
  API_URL: true,
  API_PUBLIC_KEYS: true,
}).parse({});

describe('asterisk/*.conf', () => {
  test('every file parses, and the dialplan is well formed', () => {
    expect(CONF_FILES.sort()).toEqual(
      expect.arrayContaining(['ari.conf', 'extensions.conf', 'http.conf', 'modules.conf', 'pjsip.conf']),
    );
    for (const name of CONF_FILES) expect(() => conf(name)).not.toThrow();
    const steps = dialplan(conf('extensions.conf'));
    // Every extension starts at priority 1 and counts up without gaps.
    const byExtension = new Map<string, typeof steps>();
    for (const s of steps) {
      const key = `${s.context}/${s.extension}`;
      byExtension.set(key, [...(byExtension.get(key) ?? []), s]);
    }
    for (const [key, list] of byExtension) {
      expect({ key, priorities: list.map((s) => s.priority) }).toEqual({
        key,
        priorities: list.map((_, i) => i + 1),
      });
    }
  });

  test('no password is written in the configuration', () => {
    for (const name of CONF_FILES) {
      const text = readFileSync(DIR + name, 'utf8');
      expect({ name, aripass: /aripass/i.test(text) }).toEqual({ name, aripass: false });
      for (const section of conf(name).sections) {
        for (const entry of section.entries.filter((e) => /(^|_)(password|secret)$/i.test(e.key))) {
          expect({ name, key: entry.key, value: entry.value }).toEqual({
            name,
            key: entry.key,
            value: expect.stringMatching(/^\{\{[A-Z_]+\}\}$/),
          });
        }
      }
    }
  });

  test("http.conf: ARI's HTTP server on the address the sidecar reaches, on the port it uses, nothing else served", () => {
    const http = general(conf('http.conf'));
    expect(yes(valuesOf(http, 'enabled').at(-1))).toBe(true);
    expect(valuesOf(http, 'bindaddr')).toEqual(['{{ARI_BIND_ADDRESS}}']);
    expect(no(valuesOf(http, 'tlsenable').at(-1))).toBe(true);
    expect(no(valuesOf(http, 'enablestatic').at(-1))).toBe(true);

    const ari = new URL(sidecarSettings.ARI_HTTP_URL);
    expect(ari.protocol).toBe('http:');
    expect(ari.port).toBe(valuesOf(http, 'bindport').at(-1)!);
    expect(ari.pathname).toBe('/ari');
    // The sidecar reaches Asterisk by its service name, on the network where ARI is bound.
    expect(ari.hostname).toBe('asterisk');
    const pbx = compose.services.asterisk!.networks as Record<string, { ipv4_address: string }>;
    expect(Object.keys(pbx)).toEqual(['pbx']);
    expect(asteriskEnv.ARI_BIND_ADDRESS).toBe(pbx.pbx!.ipv4_address);
    expect(compose.services.sidecar!.networks).toContain('pbx');
  });

  test('ari.conf: ARI enabled, one user whose name and password the entrypoint fills in from the compose settings', () => {
    const file = conf('ari.conf');
    expect(yes(settingOf(file, general(file), 'enabled'))).toBe(true);
    const users = file.sections.filter((s) => valuesOf(s, 'type').includes('user'));
    expect(users.map((u) => u.name)).toEqual(['{{ARI_USERNAME}}']);
    expect(valuesOf(users[0]!, 'password')).toEqual(['{{ARI_PASSWORD}}']);
    expect(valuesOf(users[0]!, 'read_only')).toEqual(['no']);
    // The same variables reach Asterisk and the sidecar.
    expect(asteriskEnv.ARI_USERNAME).toBe(sidecarEnv.ARI_USERNAME!);
    expect(asteriskEnv.ARI_PASSWORD).toBe(sidecarEnv.ARI_PASSWORD!);
    expect(asteriskEnv.ARI_PASSWORD).toBe(composeEnv.ARI_PASSWORD!);
  });

  test('modules.conf: autoload, ARI and the trunk required, risky and unused modules not loaded', () => {
    const modules = general(conf('modules.conf'), 'modules');
    expect(yes(valuesOf(modules, 'autoload').at(-1))).toBe(true);
    const required = new Set(valuesOf(modules, 'require'));
    const noload = new Set(valuesOf(modules, 'noload'));
    for (const m of [
      'res_http_websocket.so',
      'res_stasis.so',
      'app_stasis.so',
      'res_ari.so',
      'res_ari_channels.so',
      'res_ari_events.so',
      'res_ari_applications.so',
      'res_ari_asterisk.so',
      'pbx_config.so',
      'app_dial.so',
      'app_playback.so',
      'chan_pjsip.so',
      'res_pjsip_outbound_registration.so',
    ]) {
      expect({ m, required: required.has(m) }).toEqual({ m, required: true });
    }
    for (const m of [
      'chan_sip.so',
      'chan_iax2.so',
      'chan_skinny.so',
      'chan_mgcp.so',
      'chan_unistim.so',
      'pbx_dundi.so',
    ]) {
      expect({ m, noload: noload.has(m) }).toEqual({ m, noload: true });
    }
    expect([...required].filter((m) => noload.has(m))).toEqual([]);
    for (const m of [...required, ...noload]) expect(m).toMatch(/^[a-z0-9_]+\.so$/);
    // AMI is part of the core: manager.conf turns it off.
    expect(no(settingOf(conf('manager.conf'), general(conf('manager.conf')), 'enabled'))).toBe(true);
  });

  const extensions = conf('extensions.conf');
  const steps = dialplan(extensions);
  const contexts = new Set(
    extensions.sections.map((s) => s.name).filter((n) => n !== 'general' && n !== 'globals'),
  );
  const stepsAt = (context: string, dialled: string) =>
    steps.filter((s) => s.context === context && extensionMatches(s.extension, dialled));

  test('every context the API and the sidecar send calls to exists, with the extension they use', () => {
    const wanted = new Set([
      ...apiConfig.ALLOWED_CONTEXTS,
      apiConfig.DEFAULT_CONTEXT,
      sidecarSettings.ARI_DIAL_CONTEXT,
      sidecarDefaults.ARI_DIAL_CONTEXT,
    ]);
    for (const context of wanted)
      expect({ context, exists: contexts.has(context) }).toEqual({ context, exists: true });
    // The default destination of an answered call: DEFAULT_EXTENSION at DEFAULT_PRIORITY.
    expect(
      stepsAt(apiConfig.DEFAULT_CONTEXT, apiConfig.DEFAULT_EXTENSION).some(
        (s) => s.priority === apiConfig.DEFAULT_PRIORITY,
      ),
    ).toBe(true);
    // Local/<number>@<ARI_DIAL_CONTEXT> for every number shape the API accepts.
    for (const number of ['5551234', '+15551234000', '12345678901234567890']) {
      const dial = stepsAt(sidecarSettings.ARI_DIAL_CONTEXT, number);
      expect({ number, first: dial[0]?.priority }).toEqual({ number, first: 1 });
    }
    expect(stepsAt(sidecarSettings.ARI_DIAL_CONTEXT, 'abc')).toEqual([]);
  });

  test('outbound-ivr answers, plays a prompt and hangs up; "play" plays hello-world as in the recordings', () => {
    const s = stepsAt('outbound-ivr', 's').map((x) => x.app);
    expect(s.filter((a) => a !== 'NoOp')).toEqual(['Answer', 'Playback', 'Hangup']);
    const play = stepsAt('outbound-ivr', 'play');
    expect(play.filter((x) => x.app !== 'NoOp').map((x) => `${x.app}(${x.args})`)).toEqual([
      'Answer()',
      'Playback(hello-world)',
      'Hangup()',
    ]);
    // The prompt of "s" is a global the operator sets.
    const globals = general(extensions, 'globals');
    expect(stepsAt('outbound-ivr', 's').find((x) => x.app === 'Playback')!.args).toBe('${OUTBOUND_PROMPT}');
    expect(valuesOf(globals, 'OUTBOUND_PROMPT')).toEqual(['hello-world']);
    // Every extension of the recorded outbound-ivr exists here too (the simulator follows that one).
    const recorded = dialplan(
      parseConf(readFileSync(`${ROOT}asterisk/sim/traces/recorded-with-extensions.conf`, 'utf8')),
    );
    const recordedIvr = new Set(recorded.filter((r) => r.context === 'outbound-ivr').map((r) => r.extension));
    expect([...recordedIvr].sort()).toEqual(['play', 's']);
    for (const extension of recordedIvr) expect(stepsAt('outbound-ivr', extension).length).toBeGreaterThan(0);
  });

  test("outbound-trunk dials PJSIP/${EXTEN}@trunk and hangs up with the trunk's cause", () => {
    for (const number of ['5551234000', '+15551234000']) {
      const list = stepsAt('outbound-trunk', number);
      expect(list.map((x) => `${x.app}(${x.args})`)).toEqual([
        'Dial(PJSIP/${EXTEN}@trunk)',
        'Hangup(${HANGUPCAUSE})',
      ]);
    }
  });

  test('outdial-amd runs AMD() with the OUTDIAL_AMD_* variables and returns to Stasis, as the simulator does', () => {
    const amd = stepsAt('outdial-amd', 's').map((x) => [x.app, x.args] as const);
    expect(amd.map(([app]) => app)).toEqual(['NoOp', 'AMD', 'NoOp', 'Stasis', 'Hangup']);
    expect(amd[1]![1].split(',').map((v) => /^\$\{(OUTDIAL_AMD_[A-Z_]+)\}$/.exec(v)?.[1])).toEqual(
      AMD_VARIABLES.map(([variable]) => variable),
    );
    // Back to whichever application the sidecar runs as (ARI_APP), which it names in the variable.
    expect(amd[3]![1]).toBe(`\${${AMD_APP_VARIABLE}},amd,\${AMDSTATUS},\${AMDCAUSE}`);
    const simulated = findExtension(SIM_DIALPLAN, AMD_CONTEXT, 's')!;
    expect(simulated.map(([app, args]) => [app, args])).toEqual(amd.map(([app, args]) => [app, args]));
  });

  test('every context, endpoint and Stasis app the dialplan and PJSIP refer to exists', () => {
    const pjsip = conf('pjsip.conf');
    for (const step of steps) {
      if (step.app === 'Goto' || step.app === 'Gosub') {
        const parts = step.args.split(',');
        if (parts.length === 3) expect(contexts.has(parts[0]!)).toBe(true);
      }
      if (step.app === 'Dial') {
        for (const target of step.args.split(',')[0]!.split('&')) {
          const m = /^PJSIP\/[^@]*@(.+)$/.exec(target);
          expect({ target, pjsip: !!m }).toEqual({ target, pjsip: true });
          expect(sectionsNamed(pjsip, m![1]!).some((s) => valuesOf(s, 'type').includes('endpoint'))).toBe(
            true,
          );
        }
      }
      if (step.app === 'Stasis') {
        expect([sidecarSettings.ARI_APP, `\${${AMD_APP_VARIABLE}}`]).toContain(step.args.split(',')[0]!);
      }
    }
    for (const section of pjsip.sections.filter((s) => settingOf(pjsip, s, 'type') === 'endpoint')) {
      const context = settingOf(pjsip, section, 'context');
      expect({ endpoint: section.name, context, exists: contexts.has(context ?? '') }).toEqual({
        endpoint: section.name,
        context,
        exists: true,
      });
    }
  });
});

describe('asterisk/pjsip.conf', () => {
  const pjsip = conf('pjsip.conf');
  const ofType = (type: string) => pjsip.sections.filter((s) => settingOf(pjsip, s, 'type') === type);
  const has = (type: string, name: string) => ofType(type).some((s) => s.name === name);

  test('a sample trunk: registration, auth, aor, endpoint and identify that refer to each other', () => {
    for (const type of ['transport', 'auth', 'aor', 'endpoint', 'registration', 'identify']) {
      expect({ type, present: ofType(type).length > 0 }).toEqual({ type, present: true });
    }
    const endpoint = ofType('endpoint').find((s) => s.name === 'trunk')!;
    expect(endpoint).toBeDefined();
    for (const aor of settingOf(pjsip, endpoint, 'aors')!.split(','))
      expect(has('aor', aor.trim())).toBe(true);
    expect(has('auth', settingOf(pjsip, endpoint, 'outbound_auth')!)).toBe(true);
    expect(has('transport', settingOf(pjsip, endpoint, 'transport')!)).toBe(true);
    for (const registration of ofType('registration')) {
      expect(has('auth', settingOf(pjsip, registration, 'outbound_auth')!)).toBe(true);
      expect(has('transport', settingOf(pjsip, registration, 'transport')!)).toBe(true);
      expect(settingOf(pjsip, registration, 'server_uri')).toMatch(/^sip:/);
      expect(settingOf(pjsip, registration, 'client_uri')).toMatch(/^sip:.+@/);
    }
    for (const identify of ofType('identify'))
      expect(has('endpoint', settingOf(pjsip, identify, 'endpoint')!)).toBe(true);
    // Nothing calls in without being the trunk: no anonymous endpoint.
    expect(has('endpoint', 'anonymous')).toBe(false);
  });

  test('every placeholder is one the entrypoint checks and docker-compose.yml passes to Asterisk', () => {
    const entrypoint = readFileSync(`${DIR}entrypoint.sh`, 'utf8');
    const checked = new Set([...entrypoint.matchAll(/^check ([A-Z_]+) /gm)].map((m) => m[1]!));
    const placeholders = new Set(
      CONF_FILES.flatMap((f) =>
        [...readFileSync(DIR + f, 'utf8').matchAll(/\{\{([A-Z_]+)\}\}/g)].map((m) => m[1]!),
      ),
    );
    expect([...placeholders].sort()).toEqual([
      'ARI_BIND_ADDRESS',
      'ARI_PASSWORD',
      'ARI_USERNAME',
      'TRUNK_HOST',
      'TRUNK_PASSWORD',
      'TRUNK_USERNAME',
    ]);
    for (const p of placeholders) {
      expect({ p, checked: checked.has(p), passed: p in asteriskEnv }).toEqual({
        p,
        checked: true,
        passed: true,
      });
    }
  });
});

describe('asterisk/entrypoint.sh', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function render(env: Record<string, string>) {
    const out = mkdtempSync(join(tmpdir(), 'outdial-asterisk-'));
    dirs.push(out);
    const proc = Bun.spawn(['sh', `${DIR}entrypoint.sh`, 'sh', '-c', 'echo started'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        OUTDIAL_TEMPLATE_DIR: DIR,
        OUTDIAL_CONFIG_DIR: out,
        ...env,
      },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [code, stdout, stderr] = await Promise.all([
      proc.exited,
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
    ]);
    const read = (name: string) => readFileSync(join(out, name), 'utf8');
    return { code, stdout, stderr, out, read };
  }

  test("with docker-compose.yml's settings it renders every file, then runs the command", async () => {
    const r = await render(asteriskEnv);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('started');
    expect(readdirSync(r.out).sort()).toEqual([...CONF_FILES].sort());
    for (const name of CONF_FILES) {
      expect({ name, placeholders: /\{\{/.test(r.read(name)) }).toEqual({ name, placeholders: false });
      expect(() => parseConf(r.read(name))).not.toThrow();
    }
    const ari = parseConf(r.read('ari.conf'));
    const user = ari.sections.find((s) => valuesOf(s, 'type').includes('user'))!;
    expect(user.name).toBe(asteriskEnv.ARI_USERNAME!);
    expect(valuesOf(user, 'password')).toEqual([composeEnv.ARI_PASSWORD!]);
    expect(valuesOf(general(parseConf(r.read('http.conf'))), 'bindaddr')).toEqual([
      asteriskEnv.ARI_BIND_ADDRESS!,
    ]);
    const pjsip = parseConf(r.read('pjsip.conf'));
    expect(settingOf(pjsip, sectionsNamed(pjsip, 'trunk-auth')[0]!, 'password')).toBe(
      composeEnv.TRUNK_PASSWORD!,
    );
  });

  test('binds ARI to loopback when no address is given', async () => {
    const { ARI_BIND_ADDRESS: _, ...rest } = asteriskEnv;
    const r = await render(rest);
    expect(r.code).toBe(0);
    expect(valuesOf(general(parseConf(r.read('http.conf'))), 'bindaddr')).toEqual(['127.0.0.1']);
  });

  test.each([
    ['ARI_PASSWORD', undefined, 'ARI_PASSWORD is required'],
    ['ARI_PASSWORD', 'aripass', 'ARI_PASSWORD'],
    ['ARI_PASSWORD', 'changeme-changeme-1', 'placeholder'],
    ['ARI_PASSWORD', 'short', 'ARI_PASSWORD'],
    ['ARI_PASSWORD', 'long-enough-but;comment', 'not allowed'],
    ['ARI_USERNAME', 'user]\n[evil', 'not allowed'],
    ['ARI_USERNAME', 'outdial\n[evil]', 'not allowed'],
    ['TRUNK_PASSWORD', undefined, 'TRUNK_PASSWORD is required'],
    ['TRUNK_HOST', 'sip.example.net;transport=tcp', 'not allowed'],
    ['ARI_BIND_ADDRESS', '0.0.0.0 ; x', 'not allowed'],
  ])('refuses %s=%p', async (name, value, message) => {
    const env: Record<string, string> = { ...asteriskEnv };
    if (value === undefined) delete env[name];
    else env[name] = value;
    const r = await render(env);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(message);
    // Nothing is half written.
    expect(readdirSync(r.out)).toEqual([]);
  });
});
