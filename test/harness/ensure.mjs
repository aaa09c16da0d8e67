#!/usr/bin/env node
// Installs what `npm start` and `npm test` need and is missing, so both work on a fresh clone:
// npm dependencies always; for tests also Debian's Chromium (browser tests), PostgreSQL's
// server programs (integration tests) and a compose client (test/ops validates docker-compose.yml
// with it), when the machine lacks them and we may install them.
// Plain Node and no dependencies: it runs before anything is installed.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const forTests = process.argv.includes('--test');
const forBench = process.argv.includes('--bench');
const say = (msg) => console.log(`[setup] ${msg}`);

function run(cmd, args, opts = {}) {
  const out = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (out.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed with ${out.status ?? out.signal}`);
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function dependenciesCurrent() {
  const installed = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (!existsSync(installed) || !existsSync(join(root, 'node_modules', '.bin', 'bun'))) return false;
  if (!existsSync(lock)) return true;
  if (statSync(lock).mtimeMs <= statSync(installed).mtimeMs) return true;
  // A checkout can give the lockfile a newer mtime without changing it: compare the package lists.
  const want = JSON.parse(readFileSync(lock, 'utf8')).packages ?? {};
  const have = JSON.parse(readFileSync(installed, 'utf8')).packages ?? {};
  return Object.entries(want).every(
    ([name, meta]) =>
      !name || have[name]?.version === meta.version || meta.optional || (meta.dev && !forTests),
  );
}

let aptUpdated = false;
function aptInstall(...packages) {
  if (process.getuid?.() !== 0 || !has('apt-get')) {
    throw new Error(
      `missing ${packages.join(', ')}; install ${packages.length > 1 ? 'them' : 'it'} (apt-get install -y ${packages.join(' ')})`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    say('apt-get update');
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    aptUpdated = true;
  }
  say(`apt-get install ${packages.join(' ')}`);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env });
}

function postgresBinDir() {
  if (process.env.PG_BINDIR && existsSync(join(process.env.PG_BINDIR, 'initdb')))
    return process.env.PG_BINDIR;
  if (has('pg_config')) {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    if (existsSync(join(dir, 'initdb'))) return dir;
  }
  for (const v of ['17', '16', '15', '14'])
    if (existsSync(`/usr/lib/postgresql/${v}/bin/initdb`)) return `/usr/lib/postgresql/${v}/bin`;
  return null;
}

try {
  if (!dependenciesCurrent()) {
    // `npm install` installs exactly the lockfile as `npm ci` does, without first deleting what is
    // already there, and keeps working with a registry that lacks other platforms' optional binaries.
    say('installing npm dependencies');
    run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error']);
  }
  if (forTests) {
    if (!has('chromium') && !existsSync('/usr/bin/chromium')) aptInstall('chromium');
    if (!postgresBinDir()) aptInstall('postgresql');
    // The README's curl examples run in the e2e step as written.
    const missing = ['curl', 'jq'].filter((tool) => !has(tool));
    if (missing.length > 0) aptInstall(...missing);
    const composePlugin = spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0;
    if (!composePlugin && !has('docker-compose')) aptInstall('docker-compose');
  }
  if (forBench) {
    if (!postgresBinDir()) aptInstall('postgresql');
    if (!has('wrk')) aptInstall('wrk');
  }
} catch (error) {
  console.error(`[setup] ${error.message}`);
  process.exit(1);
}
