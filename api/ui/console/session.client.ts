import type { ConsoleContext, Me, TokenPair } from './context.ts';

/** Logging in and out, and which page the hash shows. */
export function consoleSession(c: ConsoleContext): void {
  c.signOut = (message = '', focus = true) => {
    c.saveSession(null);
    c.me = null;
    c.leaveCampaign();
    c.stream?.abort();
    c.stream = null;
    c.$('nav').hidden = true;
    c.showView('login-view', false);
    c.flash(message);
    if (focus) c.$('login-username').focus();
  };

  c.start = async () => {
    // On first load the focus stays at the top of the page, where the skip link is.
    if (!c.token()) return c.signOut('', false);
    // After a reload: the timer starts again from what the tab kept.
    c.scheduleRefresh();
    let me: Me;
    try {
      me = await c.api<Me>('/api/v2/me');
    } catch {
      return;
    }
    c.me = me;
    c.$('nav').hidden = false;
    c.text(c.$('whoami'), `${me.username} (${me.role})`);
    for (const el of Array.from(document.querySelectorAll<HTMLElement>('[data-admin-only]')))
      el.hidden = me.role !== 'admin';
    if (me.role === 'viewer') {
      c.$('originate-form').remove();
      for (const el of Array.from(document.querySelectorAll('[data-can-write]'))) el.remove();
    }
    void c.openStream();
    c.route();
  };

  c.$('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    c.showError('login-error', null);
    const form = new FormData(e.target as HTMLFormElement);
    try {
      const res = await c.api<TokenPair>('/api/v2/token', {
        method: 'POST',
        body: new URLSearchParams({
          username: String(form.get('username') ?? ''),
          password: String(form.get('password') ?? ''),
        }),
      });
      c.saveSession(res);
      c.$<HTMLInputElement>('login-password').value = '';
      c.flash('');
      if (!location.hash || location.hash === '#/') location.hash = '#/calls';
      await c.start();
    } catch (error) {
      c.showError(
        'login-error',
        error instanceof c.HttpError && error.status === 401
          ? new Error('Wrong username or password.')
          : error,
      );
      c.$('login-password').focus();
    }
  });

  c.$('logout').addEventListener('click', async () => {
    // Revoking the access token ends its session: the refresh token too.
    await c.api('/api/v2/token/revoke', { method: 'POST' }).catch(() => undefined);
    c.signOut('You are logged out.');
  });

  c.route = () => {
    if (!c.me) return;
    const hash = c.here();
    if (hash !== c.flashPage) c.flash('');
    const call = /^#\/calls\/([0-9a-f-]{36})$/.exec(hash);
    if (call) {
      c.leaveCampaign();
      return void c.loadCall(call[1]!);
    }
    c.currentCall = null;
    const campaign = /^#\/campaigns\/([0-9a-f-]{36})$/.exec(hash);
    if (campaign) return void c.loadCampaign(campaign[1]!);
    c.leaveCampaign();
    if (hash === '#/campaigns') {
      c.showView('campaigns-view');
      if (c.me.role !== 'viewer') void c.loadCampaignFlows();
      return void c.loadCampaigns(true);
    }
    if (hash === '#/users' && c.me.role === 'admin') {
      c.showView('users-view');
      return void c.loadUsers();
    }
    c.showView('calls-view');
    void c.loadCalls(true);
    void c.loadSidecars();
  };
}
