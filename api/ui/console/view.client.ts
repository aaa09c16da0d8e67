import type { ConsoleContext } from './context.ts';

interface FieldError {
  path: string;
  pointer?: string;
  parameter?: string;
  message: string;
}

/**
 * The DOM helpers every page uses: messages, errors, views and their focus, table cells, dialogs.
 * (One function for the whole module: see ./context.ts.)
 */
export function consoleView(c: ConsoleContext): void {
  const views = ['login-view', 'calls-view', 'call-view', 'campaigns-view', 'campaign-view', 'users-view'];
  /** The navigation link of each view. */
  const NAV: Record<string, string> = {
    'calls-view': 'calls',
    'call-view': 'calls',
    'campaigns-view': 'campaigns',
    'campaign-view': 'campaigns',
    'users-view': 'users',
  };

  c.$ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

  c.text = (el, value) => {
    el.textContent = value;
  };

  c.here = () => location.hash || '#/calls';

  /** Shows a message about page `page` (the one in use unless given); an empty message hides it. */
  c.flash = (message, page = c.here()) => {
    const el = c.$('flash');
    c.text(el, message);
    el.hidden = !message;
    c.flashPage = page;
  };

  c.showError = (id, error) => {
    const el = c.$(id);
    if (!error) {
      el.hidden = true;
      c.text(el, '');
      return;
    }
    const fields = error instanceof c.HttpError ? error.body.errors : undefined;
    // With its fields listed, the problem's detail (the first field in the API's own terms) would
    // only say one of them again.
    const lead = Array.isArray(fields) && fields.length > 0 ? 'Refused; please correct:' : null;
    c.text(el, lead ?? (error instanceof Error ? error.message : String(error)));
    if (Array.isArray(fields))
      for (const f of fields as FieldError[]) {
        const line = document.createElement('span');
        line.className = 'field-error';
        line.textContent = `${fieldWords(f)}: ${f.message}`;
        el.append(line);
      }
    el.hidden = false;
  };

  /**
   * Where a refused field is, in words: `/flow/2/cases/1` is "Flow step 3 › cases › 1" (steps
   * counted from 1, as a person counts them), `/phone_number` is "phone_number".
   */
  function fieldWords(f: FieldError): string {
    if (!f.pointer) return f.parameter ?? f.path.replace(/^body\./, '');
    const parts = f.pointer
      .split('/')
      .slice(1)
      .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
    if (parts[0] === 'flow' && /^\d+$/.test(parts[1] ?? ''))
      return [`Flow step ${Number(parts[1]) + 1}`, ...parts.slice(2)].join(' › ');
    return parts.join(' › ') || 'The request';
  }

  c.showView = (id, focus = true) => {
    for (const v of views) c.$(v).hidden = v !== id;
    for (const a of Array.from(document.querySelectorAll<HTMLAnchorElement>('[data-nav]'))) {
      if (NAV[id] === a.dataset.nav) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    if (focus) c.$(id).querySelector<HTMLElement>('h2')?.focus();
  };

  c.statusBadge = (status) => {
    const span = document.createElement('span');
    span.className = `status ${status}`;
    span.textContent = status;
    return span;
  };

  c.cell = (row, content, optional = false) => {
    const td = row.insertCell();
    if (optional) td.className = 'optional';
    if (typeof content === 'string') td.textContent = content;
    else td.append(content);
    return td;
  };

  c.when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

  /**
   * Asks before an action that takes something away. The dialog names the action on its button;
   * Cancel has the focus first, Escape cancels, and the focus goes back where it was. True when
   * the action was confirmed.
   */
  c.confirmAction = (question, detail, action) => {
    const dialog = c.$<HTMLDialogElement>('confirm');
    const back = document.activeElement as HTMLElement | null;
    c.text(c.$('confirm-title'), question);
    c.text(c.$('confirm-text'), detail);
    c.text(c.$('confirm-ok'), action);
    dialog.returnValue = '';
    dialog.showModal();
    c.$('confirm-cancel').focus();
    return new Promise((resolve) => {
      dialog.addEventListener(
        'close',
        () => {
          if (back?.isConnected) back.focus();
          resolve(dialog.returnValue === 'ok');
        },
        { once: true },
      );
    });
  };
  c.$('confirm-ok').addEventListener('click', () => c.$<HTMLDialogElement>('confirm').close('ok'));
  c.$('confirm-cancel').addEventListener('click', () => c.$<HTMLDialogElement>('confirm').close(''));
}
