import { AsyncLocalStorage } from 'node:async_hooks';
import type { Principal } from './tokens.js';

/**
 * The principal of the request being handled, for code below the routes (the writer's
 * admission check, in-process `app.inject` calls). Entered in a preHandler hook, after the
 * body is read, so it holds through the handler and everything it awaits. Background work
 * (alerting, the demo) runs outside any request and sees undefined.
 */
const als = new AsyncLocalStorage<Principal>();

export function currentPrincipal(): Principal | undefined {
  return als.getStore();
}

export function runAs<T>(p: Principal, fn: () => T): T {
  return als.run(p, fn);
}
