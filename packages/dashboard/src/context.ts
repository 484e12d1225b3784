import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Api, Me } from './api.js';
import type { EventStream } from './events.js';

export interface Session {
  api: Api;
  me: Me;
  stream: EventStream;
  signOut: () => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}

/** Admins and viewers see the whole fleet; a user sees their own jobs. */
export const seesAll = (me: Me): boolean => me.role === 'admin' || me.role === 'viewer';
/** Viewers change nothing (the API refuses them too; the page only hides what would fail). */
export const mayChange = (me: Me): boolean => me.role !== 'viewer';
