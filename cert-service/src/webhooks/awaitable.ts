/**
 * A value known at once or later. The broker asks once per packet, and a warm decision cache
 * answers without waiting: returning such answers as they are spares a promise and a microtask
 * turn at every layer between the route and the cache.
 */
export type Awaitable<T> = T | Promise<T>;

/** `next` applied to the value now, or once it settles; a rejection passes through. */
export function andThen<T, R>(value: Awaitable<T>, next: (settled: T) => R): Awaitable<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}
