/**
 * Database failures that mean "the database cannot be used right now" (locked by another
 * process, unreachable, restarting, its disk full) become AppErrors at the driver, so every
 * caller (routes, uploads, the job runner) sees a retryable E_UNAVAILABLE (503) or
 * E_STORAGE_FULL (507) instead of an unknown error answered as a 500. Each metadata adapter
 * passes the classifier that knows its driver's error shapes; core never inspects them.
 */
import type { DatabaseConnection, Dialect, Driver, QueryResult } from 'kysely';
import { AppError, type ErrorCode } from '../errors.js';

/** The code a driver error stands for, or undefined to let it through unchanged. */
export type DbErrorClassifier = (err: unknown) => Extract<ErrorCode, 'E_UNAVAILABLE' | 'E_STORAGE_FULL'> | undefined;

function mapped(err: unknown, classify: DbErrorClassifier): unknown {
  if (err instanceof AppError) return err;
  const code = classify(err);
  if (!code) return err;
  const detail = err instanceof Error ? err.message : String(err);
  const what = code === 'E_STORAGE_FULL' ? 'the database is out of storage space' : 'the database is unavailable';
  return new AppError(code, `${what}; try again later (${detail})`, { cause: err });
}

/** Runs `fn`, mapping what it throws (synchronously too: some drivers throw before any await). */
async function classified<T>(classify: DbErrorClassifier, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw mapped(err, classify);
  }
}

class ClassifyingDriver implements Driver {
  readonly #inner: Driver;
  readonly #classify: DbErrorClassifier;
  readonly #patched = new WeakSet<DatabaseConnection>();

  constructor(inner: Driver, classify: DbErrorClassifier) {
    this.#inner = inner;
    this.#classify = classify;
  }

  init(): Promise<void> {
    return classified(this.#classify, () => this.#inner.init());
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await classified(this.#classify, () => this.#inner.acquireConnection());
    // The connection object stays the driver's own (its release may depend on it): the
    // query methods are wrapped in place, once, as Kysely's own query logging does.
    if (!this.#patched.has(connection)) {
      this.#patched.add(connection);
      const classify = this.#classify;
      const executeQuery = connection.executeQuery.bind(connection);
      const streamQuery = connection.streamQuery.bind(connection);
      connection.executeQuery = <R>(query: Parameters<DatabaseConnection['executeQuery']>[0]): Promise<QueryResult<R>> =>
        classified(classify, () => executeQuery<R>(query));
      connection.streamQuery = async function* <R>(query: Parameters<DatabaseConnection['streamQuery']>[0], chunkSize?: number) {
        try {
          yield* streamQuery<R>(query, chunkSize);
        } catch (err) {
          throw mapped(err, classify);
        }
      };
    }
    return connection;
  }

  beginTransaction(...args: Parameters<Driver['beginTransaction']>): Promise<void> {
    return classified(this.#classify, () => this.#inner.beginTransaction(...args));
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return classified(this.#classify, () => this.#inner.commitTransaction(connection));
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return classified(this.#classify, () => this.#inner.rollbackTransaction(connection));
  }

  savepoint(...args: Parameters<NonNullable<Driver['savepoint']>>): Promise<void> {
    return classified(this.#classify, () => this.#nested('savepoint')(...args));
  }

  rollbackToSavepoint(...args: Parameters<NonNullable<Driver['rollbackToSavepoint']>>): Promise<void> {
    return classified(this.#classify, () => this.#nested('rollbackToSavepoint')(...args));
  }

  releaseSavepoint(...args: Parameters<NonNullable<Driver['releaseSavepoint']>>): Promise<void> {
    return classified(this.#classify, () => this.#nested('releaseSavepoint')(...args));
  }

  #nested(method: 'savepoint' | 'rollbackToSavepoint' | 'releaseSavepoint') {
    const fn = this.#inner[method];
    if (!fn) throw new Error(`the ${method} method is not supported by this driver`);
    return fn.bind(this.#inner);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.#inner.releaseConnection(connection);
  }

  destroy(): Promise<void> {
    return this.#inner.destroy();
  }
}

/** `dialect` whose driver errors pass through `classify` (see the module comment). */
export function withDbErrorClassifier(dialect: Dialect, classify: DbErrorClassifier): Dialect {
  return {
    createDriver: () => new ClassifyingDriver(dialect.createDriver(), classify),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}
