import type { ConsoleContext } from './context.ts';

interface User {
  id: string;
  username: string;
  role: string;
  is_active: boolean;
}

/**
 * The users page (admins only): the list, with a role picker, activation and password reset on
 * each row, and the form that adds a user. Whatever takes something away is confirmed first.
 * (One function for the whole module: see ./context.ts.)
 */
export function consoleUsers(c: ConsoleContext): void {
  const ROLES = ['viewer', 'operator', 'admin'];
  const ROLE_RIGHTS: Record<string, string> = {
    admin: 'An admin may do everything, users included.',
    operator: 'An operator places, hangs up and reads their own calls, and manages no users.',
    viewer: 'A viewer reads calls and can neither place nor hang up any.',
  };

  /** Lists the users; `focus` names a control (`<user id> <action>`) to give the focus to after. */
  c.loadUsers = async (focus = '') => {
    try {
      const page = await c.api<{ items: User[] }>('/api/v2/users?limit=100');
      const body = c.$<HTMLTableElement>('users-table').tBodies[0]!;
      body.replaceChildren();
      for (const u of page.items) {
        const row = body.insertRow();
        c.cell(row, u.username);
        c.cell(row, roleSelect(u));
        c.cell(row, u.is_active ? 'yes' : 'no');
        const actions = document.createElement('div');
        actions.className = 'actions';
        actions.append(toggleButton(u), resetButton(u));
        c.cell(row, actions);
      }
      if (focus) document.querySelector<HTMLElement>(`[data-control="${focus}"]`)?.focus();
    } catch (error) {
      c.flash(`Could not load users: ${(error as Error).message}`);
    }
  };

  /** The role picker: taking rights away is confirmed first. */
  function roleSelect(u: User): HTMLSelectElement {
    const select = document.createElement('select');
    select.setAttribute('aria-label', `Role of ${u.username}`);
    for (const r of ['admin', 'operator', 'viewer']) {
      const o = document.createElement('option');
      o.value = r;
      o.textContent = r;
      o.selected = r === u.role;
      select.append(o);
    }
    select.addEventListener('change', async () => {
      const role = select.value;
      if (
        ROLES.indexOf(role) < ROLES.indexOf(u.role) &&
        !(await c.confirmAction(
          `Make ${u.username} ${role}?`,
          `${u.username} is ${u.role} now. ${ROLE_RIGHTS[role]} This takes effect at once.`,
          `Make ${u.username} ${role}`,
        ))
      ) {
        select.value = u.role;
        return;
      }
      try {
        await c.api(`/api/v2/users/${u.id}`, { method: 'PATCH', json: { role } });
        u.role = role;
        c.flash(`${u.username} is now ${role}.`);
      } catch (error) {
        c.flash(`Could not change the role: ${(error as Error).message}`);
        select.value = u.role;
      }
    });
    return select;
  }

  /** Activates or deactivates the user; deactivating is confirmed first. */
  function toggleButton(u: User): HTMLButtonElement {
    const toggle = document.createElement('button');
    toggle.type = 'button';
    toggle.dataset.control = `${u.id} toggle`;
    toggle.textContent = u.is_active ? `Deactivate ${u.username}` : `Activate ${u.username}`;
    toggle.addEventListener('click', async () => {
      if (
        u.is_active &&
        !(await c.confirmAction(
          `Deactivate ${u.username}?`,
          `${u.username} can no longer log in, and every token ${u.username} holds stops working at once.`,
          `Deactivate ${u.username}`,
        ))
      )
        return;
      try {
        await c.api(`/api/v2/users/${u.id}`, { method: 'PATCH', json: { is_active: !u.is_active } });
        c.flash(`${u.username} ${u.is_active ? 'deactivated' : 'activated'}.`);
        void c.loadUsers(`${u.id} toggle`);
      } catch (error) {
        c.flash(`Could not change ${u.username}: ${(error as Error).message}`);
      }
    });
    return toggle;
  }

  /** Makes the user a new password, shown once; confirmed first. */
  function resetButton(u: User): HTMLButtonElement {
    const reset = document.createElement('button');
    reset.type = 'button';
    reset.textContent = `Reset password of ${u.username}`;
    reset.addEventListener('click', async () => {
      if (
        !(await c.confirmAction(
          `Reset the password of ${u.username}?`,
          `This signs ${u.username} out everywhere: every token ${u.username} holds stops working. ` +
            'A new password is made and shown here once.',
          `Reset password of ${u.username}`,
        ))
      )
        return;
      try {
        const res = await c.api<{ generated_password: string }>(`/api/v2/users/${u.id}/password`, {
          method: 'POST',
        });
        c.flash(`New password for ${u.username}: ${res.generated_password} (shown once).`);
      } catch (error) {
        c.flash(`Could not reset the password: ${(error as Error).message}`);
      }
    });
    return reset;
  }

  c.$('user-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    c.showError('user-error', null);
    const form = e.target as HTMLFormElement;
    const data = new FormData(form);
    try {
      await c.api('/api/v2/users', {
        method: 'POST',
        json: { username: data.get('username'), password: data.get('password'), role: data.get('role') },
      });
      c.flash(`Added ${String(data.get('username'))}.`);
      form.reset();
      void c.loadUsers();
    } catch (error) {
      c.showError('user-error', error);
    }
  });
}
