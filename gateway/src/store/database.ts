/**
 * Opens the gateway's bun:sqlite database and brings its schema up to date.
 *
 * - File databases run in WAL mode with `synchronous = NORMAL`: a commit appends to the WAL
 *   without an fsync (the WAL is synced at checkpoints), so thousands of small transactions a
 *   second cost no disk flushes, and a crash loses at most the last commits, never consistency.
 *   WAL also lets other processes read while one writes (see LocationService on sharing).
 * - `busy_timeout` makes a writer wait for another process's write lock instead of failing.
 * - Schema changes are numbered migrations recorded in `schema_migrations`; each runs once, in
 *   its own transaction, in order. Add a migration by appending to MIGRATIONS (never edit one
 *   that has shipped).
 */
import { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

export interface Migration {
  /** 1, 2, 3 ... strictly increasing. */
  version: number
  name: string
  /** SQL statements, run with `db.run` one after the other inside one transaction. */
  up: string[]
}

/** The gateway's schema history. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'bindings',
    up: [
      `CREATE TABLE bindings (
        aor           TEXT    NOT NULL,
        binding_key   TEXT    NOT NULL,
        contact       TEXT    NOT NULL,
        q             REAL    NOT NULL,
        expires_at    INTEGER NOT NULL,
        call_id       TEXT    NOT NULL,
        cseq          INTEGER NOT NULL,
        instance_id   TEXT,
        reg_id        INTEGER,
        flow_id       TEXT,
        transport     TEXT    NOT NULL,
        source_address TEXT   NOT NULL,
        source_port   INTEGER NOT NULL,
        user_agent    TEXT,
        path          TEXT    NOT NULL,
        registered_at INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL,
        PRIMARY KEY (aor, binding_key)
      ) WITHOUT ROWID`,
      // No secondary index: restore() reads every row, and writes are the hot path (an index
      // on expires_at doubled the cost of each upsert).
    ],
  },
]

export interface OpenDatabaseOptions {
  /** Migrations to apply (default MIGRATIONS). */
  migrations?: readonly Migration[]
}

/**
 * Opens (creating if needed, with its directory) the database at `path` — or an in-memory one
 * for ":memory:" — sets the pragmas and applies pending migrations.
 * @throws Error when the file cannot be opened or a migration fails (the gateway refuses to start)
 */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): Database {
  const memory = path === ':memory:' || path === ''
  if (!memory) mkdirSync(dirname(path), { recursive: true })
  const db = new Database(memory ? ':memory:' : path, { create: true, strict: true })
  // First: switching to WAL takes a lock, and the gateway's workers open the CDR file at once.
  db.run('PRAGMA busy_timeout = 5000')
  if (!memory) {
    db.run('PRAGMA journal_mode = WAL')
    db.run('PRAGMA synchronous = NORMAL')
  }
  db.run('PRAGMA foreign_keys = ON')
  db.run('PRAGMA temp_store = MEMORY')
  migrate(db, options.migrations ?? MIGRATIONS)
  return db
}

/**
 * Applies the migrations whose version is above the highest one recorded.
 * @returns the versions applied now
 */
export function migrate(db: Database, migrations: readonly Migration[]): number[] {
  db.run(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
  )`)
  let last = 0
  for (const m of migrations) {
    if (m.version <= last) throw new Error(`migration ${m.version} (${m.name}) is out of order`)
    last = m.version
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
  // One write transaction (BEGIN IMMEDIATE) from reading the version to the last migration:
  // processes opening the file together (the gateway's workers) apply each migration once.
  return db.transaction(() => {
    const row = db.query('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null } | null
    const current = row?.v ?? 0
    const applied: number[] = []
    for (const m of migrations) {
      if (m.version <= current) continue
      for (const sql of m.up) db.run(sql)
      record.run(m.version, m.name, Math.floor(Date.now() / 1000))
      applied.push(m.version)
    }
    return applied
  }).immediate()
}
