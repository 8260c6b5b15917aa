/**
 * Every command's flags, declared once: commander's calls, from which
 * @commander-js/extra-typings infers the type of the values each command's `run` receives
 * (ExportFlags, ImportFlags...). The command table (commands.ts) attaches them to the commands.
 */
import { Option, type Command } from '@commander-js/extra-typings';
import type { FlagsOf } from './command-spec.js';

/**
 * The global flags, given before or after the command (klv --profile staging export ...), on
 * the program main.ts builds (declareFlags(program, globalFlags)).
 */
export const globalFlags = (program: Command) =>
  program
    .option('--profile <name>', 'connection profile to use (default: $KLAVIYO_PROFILE or "default")')
    .option('--config <file>', 'read profiles from this file instead of searching')
    .option('--api-key-file <path|->', 'read the Private API Key from a file, or - for stdin')
    .option('--demo', 'run against the built-in Klaviyo emulator with a demo account')
    .option('-v, --verbose', 'show each HTTP request (method, path, status, ms, rate limit, retries)')
    .option('-q, --quiet', 'no progress or informational messages')
    .option('--json', 'machine-readable output and summaries')
    .option('--no-color', 'no colour (also NO_COLOR=1)');
export type GlobalOptions = FlagsOf<typeof globalFlags>;

/** Repeatable flags (--where a --where b) collect into a list. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** klv export */
export const exportFlags = (cmd: Command) =>
  cmd
    .option('-o, --output <file|->', 'write to this file (via FILE.partial) instead of stdout; - for stdout')
    .addOption(new Option('--format <format>', 'csv, json or ndjson (default: from the -o extension, else csv)'))
    .option('--columns <A,B,...>', 'columns to export, in this order (default: all but the on-demand ones)', collect)
    .option('--where <condition>', 'filter, e.g. "Email = \'ann@example.com\'" (repeatable, AND-ed)', collect)
    .option('--since <when>', 'incremental: rows changed since an ISO time or a span (7d, 12h, 30m)')
    .option('--limit <n>', 'stop after n rows (stops paging early)')
    .option('--properties <a,b,...>', 'custom properties as Properties.<name> columns', collect)
    .option('--include-archived', 'include archived records (campaigns, flows)')
    .option('--delimiter <char>', 'CSV field delimiter: , ; | or \\t (tab)')
    .option('--bom', 'start the CSV with a UTF-8 byte order mark (for Excel)')
    .option('--no-header', 'CSV without the header line')
    .option('--safe-csv', 'prefix CSV cells starting with = + - @ with \' (spreadsheet formula injection)')
    .option('--explain', 'print the requests, local filters and an estimate, then exit without sending anything');
export type ExportFlags = FlagsOf<typeof exportFlags>;

/** klv query */
export const queryFlags = (cmd: Command) =>
  cmd
    .option('-f, --file <file>', 'read the SQL from this file')
    .addOption(new Option('--format <format>', 'table, csv, json or ndjson (default: table on a terminal, else csv)'))
    .option('--explain', 'print the requests, filters, local work and an estimate, then exit without sending anything')
    .option('--yes', 'confirm a DELETE without being asked');
export type QueryFlags = FlagsOf<typeof queryFlags>;

/** klv import */
export const importFlags = (cmd: Command) =>
  cmd
    .option('--op <operation>', 'insert, update, upsert or delete (the object\'s operations: klv objects)')
    .option('--map <file|"Header=Column">', 'map CSV headers to columns: a YAML/JSON file or one pair (repeatable)', collect)
    .option('--set <Column=value>', 'a constant value for a column on every row (repeatable)', collect)
    .option('--null-value <token>', 'a cell holding exactly this text clears the field (e.g. NULL)')
    .option('--strict', 'unknown headers are an error, not a warning')
    .option('--success-log <file>', 'success log (default: <input>.success.csv)')
    .option('--error-log <file>', 'error log (default: <input>.errors.csv)')
    .option('--batch-size <n>', 'at most n rows per request (default: the most Klaviyo takes)')
    .option('--dry-run', 'validate every row and report what would change; write nothing to Klaviyo')
    .option('--yes', 'confirm a delete without being asked')
    .option('--resume', 'continue an interrupted import from its logs, sending no row twice')
    .option('--list <id>', 'Profiles: also add every imported profile to this list')
    .option('--allow-global-unsubscribe', 'ListSubscribe delete: allow unsubscribing profiles not in the list (unsubscribes them everywhere)')
    .option('--historical-import', 'ListSubscribe insert: consent collected earlier (no double opt-in, no flows)')
    .option('--unique-by <A,B,...>', 'Events: columns whose values make each event\'s unique id', collect)
    .option('--delimiter <char>', 'CSV field delimiter: , ; | or \\t (tab)');
export type ImportFlags = FlagsOf<typeof importFlags>;

/** klv replicate */
export const replicateFlags = (cmd: Command) =>
  cmd
    .option('--to <url>', 'destination: sqlite:FILE, postgres://..., mysql://... (default: sqlite:./klaviyo.db)')
    .option('--schema <name>', 'PostgreSQL schema / MySQL database for the tables (created if missing)')
    .option('--table-prefix <prefix>', 'prefix every table name (klaviyo_)')
    .option('--sweep-deletes <when>', 'look for deleted records: always, never, or every <hours> (default: per object)')
    .option('--hard-deletes', 'remove deleted records\' rows instead of setting _klv_deleted_at')
    .option('--allow-mass-deletes', 'apply a deletion sweep even if it would delete most of a table (refused by default)')
    .option('--lookback <span>', 'read again this far back from each cursor (default: 7d for events, 1h otherwise)')
    .option('--batch-size <n>', 'rows per upsert transaction (default 500)');
export type ReplicateFlags = FlagsOf<typeof replicateFlags>;

/** klv sync */
export const syncFlags = (cmd: Command) =>
  cmd
    .option('--with <url>', 'the database: sqlite:FILE, postgres://..., mysql://...')
    .option('--table <name>', 'the table to keep in sync (default: the object\'s snake_case name)')
    .option('--schema <name>', 'PostgreSQL schema / MySQL database of the table')
    .option('--conflict <policy>', 'klaviyo-wins, db-wins or newest (default klaviyo-wins)')
    .option('--log-dir <dir>', 'where the success, error and conflict logs go (default .)')
    .option('--dry-run', 'list what each side would receive; write nothing');
export type SyncFlags = FlagsOf<typeof syncFlags>;

/** klv config init */
export const configInitFlags = (cmd: Command) =>
  cmd
    .option('--path <file>', 'file to write (default: $XDG_CONFIG_HOME/klv/config.yaml)')
    .option('--private-key-env <VAR>', 'read the Private API Key from this environment variable')
    .option('--private-key-file <path>', 'read the Private API Key from this file')
    .option('--private-key-stdin', 'read the Private API Key from standard input and store it in the file')
    .option('--public-key <siteId>', 'the Public API Key (site id)')
    .option('--revision <YYYY-MM-DD>', 'API revision to pin')
    .option('--base-url <url>', 'API base URL (default https://a.klaviyo.com)')
    .option('--force', 'replace an existing profile of the same name');
export type ConfigInitFlags = FlagsOf<typeof configInitFlags>;

/** klv emulator */
export const emulatorFlags = (cmd: Command) =>
  cmd
    .option('--host <host>', 'loopback address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0 picks a free one)', '8787')
    .option('--data <demo|empty|FILE>', 'initial account: the demo account, an empty one, or a JSON file', 'demo')
    .option('--profiles <n>', 'number of profiles in the demo account', '2000')
    .addOption(new Option('--rate-limits <mode>', 'enforce the spec\'s rate limits').choices(['spec', 'off'] as const).default('spec'))
    .option('--faults <rate>', 'fraction (0 to 1) of /api requests that get a fault (see --fault-kinds)', '0')
    .option('--fault-kinds <list>', 'comma list of 500,502,503,drop,drop-after,slow,429, or all', '500,502,503,drop')
    .option('--slow-ms <n>', 'how long a slow fault holds the response back', '1500')
    .option('--storm-ms <n>', 'how long a 429 storm lasts', '2000')
    .option('--job-faults <rate>', 'fraction (0 to 1) of profile bulk import jobs cancelled half-way', '0')
    .option('--quirks <list>', 'real-world quirks to switch on: comma list of NAME or NAME=RATE (see below)')
    .option('--latency <ms>', 'delay added to every response', '0')
    // Not `<pk_...>`: commander reads a placeholder ending in a word and "..." as a list of values.
    .option('--key <private-key>', 'accept only this private key, pk_... (default: any key starting with pk_)')
    .option('--scopes <list>', 'comma list of the scopes of the --key key, e.g. profiles:read,lists:write (default: every scope)')
    .option('--seed <n>', 'seed for demo data, fault injection and quirks', '1');
export type EmulatorFlags = FlagsOf<typeof emulatorFlags>;
