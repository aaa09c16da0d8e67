import type { ConsoleContext } from './context.ts';

interface SidecarState {
  id: string;
  state: 'up' | 'down' | 'breaker_open';
  load: number | null;
  capacity: number;
  error?: string;
}

/**
 * The sidecars panel on the calls page: each sidecar's state, load and capacity as /readiness
 * reports them, and the sidecars offered in the call form's picker. (One function for the whole
 * module: see ./context.ts.)
 */
export function consoleSidecars(c: ConsoleContext): void {
  const WORDS: Record<SidecarState['state'], string> = {
    up: 'up',
    down: 'down',
    breaker_open: 'breaker open',
  };

  c.loadSidecars = async () => {
    let sidecars: SidecarState[];
    try {
      // /readiness answers 503 (with the same body) when the database is down: read it either way.
      const res = await fetch('/readiness');
      sidecars = ((await res.json()) as { sidecars?: SidecarState[] }).sidecars ?? [];
    } catch (error) {
      c.text(c.$('sidecars-note'), `Could not read the sidecars' state: ${(error as Error).message}`);
      return;
    }
    const body = c.$<HTMLTableElement>('sidecars-table').tBodies[0]!;
    body.replaceChildren();
    for (const s of sidecars) {
      const row = body.insertRow();
      c.cell(row, s.id);
      // Coloured as a call that went well or failed; the word says which state.
      const state = c.statusBadge(s.state === 'up' ? 'completed' : 'failed');
      state.textContent = WORDS[s.state];
      c.cell(row, state);
      c.cell(row, `${s.load ?? '?'} of ${s.capacity}`);
      c.cell(row, s.error ?? '', true);
    }
    const up = sidecars.filter((s) => s.state === 'up').length;
    c.text(
      c.$('sidecars-note'),
      up === 0 ? 'No sidecar is up: new calls are refused.' : `${up} of ${sidecars.length} up.`,
    );
    fillPicker(sidecars);
  };

  /** The form's sidecar picker: any (the least loaded), or one by name; the choice is kept. */
  function fillPicker(sidecars: SidecarState[]) {
    // A viewer's page has no originate form.
    const select = document.getElementById('originate-sidecar') as HTMLSelectElement | null;
    if (!select) return;
    const chosen = select.value;
    const any = document.createElement('option');
    any.value = '';
    any.textContent = 'any (the least loaded that is up)';
    const options = sidecars.map((s) => {
      const o = document.createElement('option');
      o.value = s.id;
      o.textContent = s.state === 'up' ? s.id : `${s.id} (${WORDS[s.state]})`;
      return o;
    });
    select.replaceChildren(any, ...options);
    select.value = sidecars.some((s) => s.id === chosen) ? chosen : '';
    c.$('originate-sidecar-field').hidden = sidecars.length < 2;
  }

  c.$('sidecars-refresh').addEventListener('click', () => void c.loadSidecars());
}
