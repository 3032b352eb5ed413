/** The caller as hooks show it to plugins: kind, token id and scopes, never a secret. */
import type { Principal } from '../http/auth.js';
import type { HookPrincipal } from './hooks.js';

export function hookPrincipal(p: Principal): HookPrincipal {
  if (p.kind === 'token') return { kind: 'token', token_id: p.id, scopes: [...p.scopes] };
  return { kind: p.kind, scopes: p.kind === 'admin' ? ['admin'] : [] };
}
