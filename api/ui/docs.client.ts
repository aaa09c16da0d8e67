/**
 * The browser half of /docs. It is served as `(${docsClient})()`, so it must not reference
 * anything outside its own body.
 */
export function docsClient(): void {
  const TOKEN_KEY = 'outdial.docs.token';
  const state = document.getElementById('login-state');
  const token = () => sessionStorage.getItem(TOKEN_KEY);
  const showState = () => {
    if (state)
      state.textContent = token()
        ? 'Logged in: requests carry your token.'
        : 'Not logged in: routes that need a token answer 401.';
  };
  showState();

  const login = document.getElementById('login') as HTMLFormElement | null;
  login?.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(login);
    const res = await fetch('/api/v2/token', {
      method: 'POST',
      body: new URLSearchParams({
        username: String(data.get('username') ?? ''),
        password: String(data.get('password') ?? ''),
      }),
    });
    const body = await res.json().catch(() => ({}));
    if (res.ok && body.access_token) {
      sessionStorage.setItem(TOKEN_KEY, body.access_token);
      showState();
    } else if (state) {
      state.textContent = `Login failed: ${body.detail ?? res.status}`;
    }
  });

  for (const form of Array.from(document.querySelectorAll<HTMLFormElement>('form.try'))) {
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const out = form.querySelector('.result') as HTMLElement;
      let path = form.dataset.path ?? '/';
      const query = new URLSearchParams();
      const headers: Record<string, string> = {};
      for (const input of Array.from(form.querySelectorAll<HTMLInputElement>('input[data-in]'))) {
        if (!input.value) continue;
        if (input.dataset.in === 'path')
          path = path.replace(`{${input.name}}`, encodeURIComponent(input.value));
        else if (input.dataset.in === 'query') query.set(input.name, input.value);
        else if (input.dataset.in === 'header') headers[input.name] = input.value;
      }
      const t = token();
      if (t) headers.Authorization = `Bearer ${t}`;
      const init: RequestInit = { method: form.dataset.method ?? 'GET', headers };
      const bodyField = form.querySelector<HTMLTextAreaElement>('textarea[name="__body"]');
      if (bodyField?.value.trim()) {
        if (form.dataset.bodyType === 'application/x-www-form-urlencoded') {
          try {
            init.body = new URLSearchParams(JSON.parse(bodyField.value));
          } catch {
            out.textContent = 'The body must be JSON (its fields become form fields).';
            return;
          }
        } else {
          headers['Content-Type'] = 'application/json';
          init.body = bodyField.value;
        }
      }
      const url = query.size ? `${path}?${query}` : path;
      out.textContent = '…';
      try {
        const res = await fetch(url, init);
        const text = await res.text();
        let pretty = text;
        try {
          pretty = JSON.stringify(JSON.parse(text), null, 2);
        } catch {
          // not JSON: show it as it came
        }
        const pre = document.createElement('pre');
        pre.textContent = `${init.method} ${url}\n${res.status} ${res.statusText}\n\n${pretty}`;
        out.replaceChildren(pre);
      } catch (error) {
        out.textContent = `Request failed: ${error}`;
      }
    });
  }
}
