/**
 * Reading one YAML file of `sip-config/` against its TypeBox schema, with every problem as a
 * ConfigError located at `file:line field` (YamlLocator): YAML syntax errors (with the line),
 * duplicate keys, schema errors in operator words (values are never echoed: they may be
 * secrets). Used by loader.ts for each file.
 */
import { existsSync, readFileSync } from 'node:fs'
import type { TSchema } from '@sinclair/typebox'
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value'
import { YamlLocator, type YamlPath } from './yaml-locator.ts'

/** One problem in one file. */
export interface ConfigError {
  /** The file as `dir/name` (dir as given to loadConfig). */
  file: string
  /** 1-based line; 0 when the problem is not in a line (unreadable file). */
  line: number
  /** The field as `users[2].ha1`; "" for the whole file. */
  field: string
  message: string
}

/** `file:line field: message` (the field part left out when empty). */
export function formatConfigError(e: ConfigError): string {
  const where = e.line > 0 ? `${e.file}:${e.line}` : e.file
  return e.field === '' ? `${where} ${e.message}` : `${where} ${e.field}: ${e.message}`
}

export interface LoadedFile<T> {
  value: T
  /** Makes a ConfigError located at `path` in this file. */
  error(path: YamlPath, message: string): ConfigError
}

/**
 * Reads one YAML file (absent: the schema defaults of `{}`), applies defaults, validates.
 * Pushes problems to `errors`; returns null when the file could not be used at all.
 */
export function readYamlFile<T>(file: string, schema: TSchema, errors: ConfigError[], sources: string[]): LoadedFile<T> | null {
  let text = ''
  let locator = new YamlLocator('')
  if (existsSync(file)) {
    try {
      text = readFileSync(file, 'utf8')
    } catch (e) {
      errors.push({ file, line: 0, field: '', message: `cannot read: ${(e as Error).message}` })
      return null
    }
    sources.push(file)
    locator = new YamlLocator(text)
  }
  const error = (path: YamlPath, message: string): ConfigError => ({
    file,
    line: locator.lineOf(path),
    field: formatPath(path),
    message,
  })

  let parsed: unknown
  try {
    parsed = text === '' ? null : Bun.YAML.parse(text)
  } catch (e) {
    const reason = ((e as Error).message ?? String(e)).replace(/^YAML Parse error:\s*/, '')
    errors.push({ file, line: syntaxErrorLine(text), field: '', message: `YAML syntax error: ${reason}` })
    return null
  }
  if (parsed === null || parsed === undefined) parsed = {}
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    errors.push({ file, line: locator.lineOf([]), field: '', message: 'must be a mapping of keys to values' })
    return null
  }

  let failed = false
  for (const d of locator.duplicateKeys()) {
    errors.push({ file, line: d.line, field: d.field, message: `duplicate key (first written at line ${d.firstLine})` })
    failed = true
  }

  dropNullSections(schema, parsed as Record<string, unknown>)
  const value = Value.Default(schema, parsed)
  if (!Value.Check(schema, value)) {
    const reported = new Set<string>()
    for (const e of Value.Errors(schema, value)) {
      if (reported.has(e.path)) continue
      reported.add(e.path)
      const path = parsePointer(e.path)
      errors.push(error(path, describeError(e)))
    }
    failed = true
  }
  if (failed) return null
  return { value: Value.Clean(schema, value) as T, error }
}

/**
 * `http:` with every child commented out parses as `http: null`; treat such an empty
 * section (an object or array in the schema) as absent so that its defaults apply.
 */
function dropNullSections(schema: TSchema, value: Record<string, unknown>): void {
  const props = (schema as { properties?: Record<string, TSchema> }).properties
  if (props === undefined) return
  for (const [key, sub] of Object.entries(props)) {
    const v = value[key]
    const type = (sub as { type?: string }).type
    if (v === null && (type === 'object' || type === 'array')) delete value[key]
    else if (type === 'object' && v !== null && typeof v === 'object' && !Array.isArray(v)) dropNullSections(sub, v as Record<string, unknown>)
  }
}

/** JSON pointer (`/users/2/ha1`) -> path (`['users', 2, 'ha1']`). */
function parsePointer(pointer: string): (string | number)[] {
  if (pointer === '') return []
  return pointer.slice(1).split('/').map((s) => {
    const k = s.replace(/~1/g, '/').replace(/~0/g, '~')
    return /^(0|[1-9][0-9]*)$/.test(k) ? Number(k) : k
  })
}

/** Path -> `users[2].ha1`. */
export function formatPath(path: YamlPath): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else out += out === '' ? seg : `.${seg}`
  }
  return out
}

function kindOf(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  if (typeof v === 'string') return 'a string'
  if (typeof v === 'number') return 'a number'
  if (typeof v === 'boolean') return 'true/false'
  return typeof v
}

/** A short, operator-readable message for one TypeBox error (values are never echoed: they may be secrets). */
function describeError(e: ValueError): string {
  const s = e.schema as Record<string, unknown>
  switch (e.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return 'unknown key'
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required'
    case ValueErrorType.String:
      // An all-digit or exponent-looking hash (`ha1: 1234e5...`) parses as a YAML number.
      return typeof e.value === 'number' || typeof e.value === 'boolean'
        ? `must be a string (got ${kindOf(e.value)}): write it in quotes`
        : `must be a string (got ${kindOf(e.value)})`
    case ValueErrorType.StringPattern:
      return `must match ${String(s.pattern)}`
    case ValueErrorType.StringMinLength:
      return s.minLength === 1 ? 'must not be empty' : `must be at least ${String(s.minLength)} characters`
    case ValueErrorType.StringMaxLength:
      return `must be at most ${String(s.maxLength)} characters`
    case ValueErrorType.Integer:
      return `must be an integer (got ${kindOf(e.value)}${typeof e.value === 'number' ? ' with a fraction' : ''})`
    case ValueErrorType.Number:
      return `must be a number (got ${kindOf(e.value)})`
    case ValueErrorType.Boolean:
      return `must be true or false (got ${kindOf(e.value)})`
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum:
      return `must be >= ${String(s.minimum)}`
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum:
      return `must be <= ${String(s.maximum)}`
    case ValueErrorType.Object:
      return `must be a mapping (got ${kindOf(e.value)})`
    case ValueErrorType.Array:
      return `must be a list (got ${kindOf(e.value)})`
    case ValueErrorType.ArrayMinItems:
      return `must have at least ${String(s.minItems)} item${s.minItems === 1 ? '' : 's'}`
    case ValueErrorType.Union: {
      const options = (s.anyOf as Record<string, unknown>[] | undefined)?.map((o) => o.const)
      if (options !== undefined && options.every((o) => o !== undefined)) return `must be one of: ${options.join(', ')}`
      return 'has an unexpected value'
    }
    case ValueErrorType.Intersect: {
      // Port = Intersect([Integer 0..65535]): report what the inner schema says.
      const inner = e.errors.flatMap((it) => [...it]).find((x) => x.path === e.path)
      return inner !== undefined ? describeError(inner) : 'has an unexpected value'
    }
    default:
      return e.message.charAt(0).toLowerCase() + e.message.slice(1)
  }
}

/**
 * Line of a YAML syntax error (Bun's parser does not say): the line after the longest
 * prefix of the file that still parses.
 */
function syntaxErrorLine(text: string): number {
  const lines = text.split(/\r\n|\n|\r/)
  for (let k = lines.length - 1; k >= 0; k--) {
    try {
      Bun.YAML.parse(lines.slice(0, k).join('\n'))
      return Math.min(k + 1, lines.length)
    } catch {
      // keep shortening
    }
  }
  return 1
}
