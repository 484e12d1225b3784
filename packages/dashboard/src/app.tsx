import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Me } from './api.js';
import { Api, ApiError, describeError } from './api.js';
import { EventStream } from './events.js';
import type { Session } from './context.js';
import { SessionContext } from './context.js';
import { forgetToken, storeToken, storedToken, takeTokenFromFragment } from './session.js';
import { SignIn } from './sign-in.js';
import { Shell } from './shell.js';

type Phase =
  | { kind: 'checking' }
  | { kind: 'signed-out'; reason?: string }
  | { kind: 'signed-in'; token: string; me: Me };

export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: 'checking' });

  useEffect(() => {
    const fromFragment = takeTokenFromFragment();
    const token = fromFragment ?? storedToken();
    if (!token) return setPhase({ kind: 'signed-out' });
    new Api(token)
      .get<Me>('/api/me')
      .then((me) => {
        if (fromFragment) storeToken(fromFragment, false);
        setPhase({ kind: 'signed-in', token, me });
      })
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 401) forgetToken();
        setPhase({ kind: 'signed-out', reason: describeError(err) });
      });
  }, []);

  if (phase.kind === 'checking') return <p class="muted center">Connecting…</p>;
  if (phase.kind === 'signed-out') {
    return (
      <SignIn
        reason={phase.reason}
        onSignedIn={(token, me, remember) => {
          storeToken(token, remember);
          setPhase({ kind: 'signed-in', token, me });
        }}
      />
    );
  }
  return (
    <SignedIn
      token={phase.token}
      me={phase.me}
      onSignOut={(reason) => {
        forgetToken();
        setPhase({ kind: 'signed-out', reason });
      }}
    />
  );
}

function SignedIn(props: { token: string; me: Me; onSignOut: (reason?: string) => void }) {
  const session = useMemo<Session>(() => {
    const api = new Api(props.token, () => props.onSignOut('The server no longer accepts this token. Sign in again.'));
    return { api, me: props.me, stream: new EventStream(props.token), signOut: () => props.onSignOut() };
  }, [props.token]);
  useEffect(() => () => session.stream.close(), [session]);
  return (
    <SessionContext.Provider value={session}>
      <Shell />
    </SessionContext.Provider>
  );
}
