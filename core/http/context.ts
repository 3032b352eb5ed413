import type { ParameterizedContext } from 'koa';
import type { RouterContext } from '@koa/router';
import type { Principal } from './auth.js';

export interface AppState {
  principal: Principal;
}

export type AppContext = ParameterizedContext<AppState> & RouterContext<AppState>;
