import { useState } from 'preact/hooks';
import type { Me } from './api.js';
import { Api, describeError } from './api.js';

/**
 * Sign-in with an API token (`baton tokens create`, or the admin token `baton dev` prints). The
 * token is checked with `GET /api/me` before it is kept.
 */
export function SignIn(props: { onSignedIn: (token: string, me: Me, remember: boolean) => void; reason?: string }) {
  const [token, setToken] = useState('');
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState<string | null>(props.reason ?? null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const t = token.trim();
    if (!t) return setError('Enter an API token.');
    setBusy(true);
    try {
      const me = await new Api(t).get<Me>('/api/me');
      props.onSignedIn(t, me, remember);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <form onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Sign in to Baton</h1>
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="current-password"
          autoFocus
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          aria-describedby="token-help"
        />
        <p id="token-help" class="muted">
          From <code>baton tokens create</code>, or the admin token <code>baton dev</code> printed.
        </p>
        <label class="check">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.currentTarget.checked)} /> Remember
          on this device
        </label>
        {error && (
          <p class="notice error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
