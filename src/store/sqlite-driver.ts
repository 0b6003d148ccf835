import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

const require = createRequire(import.meta.url);
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/**
 * The SQLite driver for the running Node: better-sqlite3 12 on Node 20 (13 needs Node 22 and crashes on 20), and
 * better-sqlite3 13 (installed under the alias `better-sqlite3-node22`, with prebuilt Node-API binaries) on Node 22
 * and later: on Node 24, 12 aborts the process at teardown ("RemoveEnvironmentCleanupHook: Assertion failed:
 * (env) != nullptr" from Statement::~Statement). Both have the same API; the types are 12's.
 */
export const SqliteDatabase: typeof BetterSqlite3 = (NODE_MAJOR >= 22 ? require('better-sqlite3-node22') : require('better-sqlite3')) as typeof BetterSqlite3;
export type SqliteDatabase = BetterSqlite3.Database;
