import type { ConsoleContext } from './context.ts';

/**
 * The DOM helpers every page uses: messages, errors, views and their focus, table cells, dialogs.
 * (One function for the whole module: see ./context.ts.)
 */
export function consoleView(c: ConsoleContext): void {
  const views = ['login-view', 'calls-view', 'call-view', 'users-view'];

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
    c.text(el, error instanceof Error ? error.message : String(error));
    el.hidden = false;
  };

  c.showView = (id, focus = true) => {
    for (const v of views) c.$(v).hidden = v !== id;
    for (const a of Array.from(document.querySelectorAll<HTMLAnchorElement>('[data-nav]'))) {
      if (
        (id === 'calls-view' || id === 'call-view') === (a.dataset.nav === 'calls') &&
        id !== 'users-view'
      ) {
        a.setAttribute('aria-current', 'page');
      } else if (id === 'users-view' && a.dataset.nav === 'users') a.setAttribute('aria-current', 'page');
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
