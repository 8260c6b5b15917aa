/**
 * The command table: names, help text and examples, and each command's flags (declared in
 * flags.ts). Implementations are loaded lazily.
 */
import { command, type CommandSpec } from './command-spec.js';
import { configInitFlags, emulatorFlags, exportFlags, importFlags, queryFlags, replicateFlags, syncFlags } from './flags.js';

export const COMMANDS: CommandSpec[] = [
  command({
    name: 'export',
    args: '<object>',
    summary: 'Export a Klaviyo object (profiles, campaigns, lists, events...) to CSV, JSON or NDJSON',
    examples: [
      ['klv export campaigns --demo > campaigns.csv', 'try it on the built-in emulator, no account needed'],
      ['klv export profiles -o profiles.csv', 'every profile to a file (written as profiles.csv.partial, renamed when complete)'],
      ["klv export profiles --where \"Email = 'ann@example.com'\"", 'one profile: the condition becomes a Klaviyo filter'],
      ['klv export profiles --columns Email,FirstName,Created --format ndjson', 'chosen columns, one JSON object per line'],
      ['klv export events --since 7d -o events.json', 'incremental: the last 7 days'],
      ["klv export list-members --where \"ListId = 'Y6nRLr'\" --explain", 'show the requests, filters and an estimate, send nothing'],
      ['klv export profiles --properties plan,tier --safe-csv -o p.csv', 'custom properties as columns, formulas defused for spreadsheets'],
    ],
    description:
      'Rows go to stdout (or -o FILE); progress (on a terminal) and the summary go to stderr.\n' +
      'With -o FILE the rows are written to FILE.partial, renamed to FILE once complete: a failed or\n' +
      'interrupted run keeps FILE.partial and leaves FILE untouched.\n\n' +
      '--format defaults to the -o file\'s extension (.csv, .tsv, .json, .ndjson, .jsonl), else csv.\n' +
      'Values: times in ISO 8601 UTC, booleans true/false, empty cells for null; nested values as JSON\n' +
      'in CSV, native in JSON/NDJSON. --safe-csv prefixes cells starting with = + - @ with \'.\n\n' +
      '--where "Column op value" (repeatable, AND-ed); op: = != > >= < <= in contains starts-with\n' +
      'ends-with. Conditions the endpoint can filter become Klaviyo\'s filter parameter; the rest are\n' +
      'checked on each row (--explain says which). \'klv describe <object>\' lists the columns.\n\n' +
      '--since takes 2026-07-01, 2026-07-01T12:00:00Z or a span back from now (30m, 12h, 7d, 2w),\n' +
      'for objects with an incremental column (klv objects). KLV_NOW fixes "now".\n\n' +
      '--json (global) makes the summary a JSON object: on stdout when -o FILE is used, else one line\n' +
      'on stderr, so that stdout carries only rows. With --explain it prints the plan as JSON.\n' +
      'Exit codes: 0 done, 2 usage error (nothing sent), 4 key refused, 130 interrupted, 1 otherwise.',
    flags: exportFlags,
    load: () => import('./commands/export.js'),
  }),
  command({
    name: 'query',
    args: '[sql...]',
    summary: 'Run SQL over Klaviyo objects: filters pushed down to the API, joins and grouping in SQLite',
    examples: [
      ['klv --demo query "SELECT Name, Created FROM Lists ORDER BY Created DESC LIMIT 5"', 'try it on the built-in emulator'],
      ["klv query \"SELECT * FROM Profiles WHERE Email = 'ann@example.com'\"", 'one request: the condition becomes a Klaviyo filter'],
      ['klv query "SELECT Country, COUNT(*) FROM Profiles GROUP BY Country" --format json', 'grouping runs locally, in a temporary SQLite file'],
      ['klv query "SELECT l.Name, COUNT(*) FROM ListMembers m JOIN Lists l ON l.Id = m.ListId GROUP BY l.Name"', 'joins between objects'],
      ["klv query --explain \"SELECT Email FROM Profiles WHERE City LIKE 'Par%'\"", 'show the requests, filters, local work and an estimate; send nothing'],
      ['klv query -f report.sql --format csv > report.csv', 'the SQL from a file (or from standard input)'],
    ],
    description:
      'Objects are tables (klv objects), their columns those of klv describe; names match\n' +
      'case-insensitively (list_members, ListMembers). SQLite\'s dialect and functions.\n\n' +
      'Push-down: top-level WHERE conditions of the form Column op literal, Column IN (...),\n' +
      "Column LIKE 'x%' / '%x%' / '%x', Column BETWEEN a AND b become Klaviyo filters where the\n" +
      'endpoint allows (Id = \'...\' reads by id); only the referenced columns are requested; LIMIT\n' +
      'stops paging early when nothing else needs the rows. The rest runs locally: simple scans\n' +
      'stream; joins, grouping, ordering, DISTINCT and subqueries run in a temporary SQLite file\n' +
      '(memory stays bounded). LIKE is case-sensitive, as Klaviyo\'s filters are.\n\n' +
      'INSERT, UPDATE and DELETE go through the same operation handlers as klv import; DELETE needs\n' +
      '--yes when klv cannot ask.\n\n' +
      'Output: --format table (default on a terminal), csv (default otherwise), json, ndjson; the\n' +
      'values are written as klv export writes them. The summary goes to stderr (JSON with --json).\n' +
      'Exit codes: 0 done, 2 usage error (nothing sent), 4 key refused, 130 interrupted, 1 otherwise.',
    flags: queryFlags,
    load: () => import('./commands/query.js'),
  }),
  command({
    name: 'import',
    args: '<object> <file|->',
    summary: 'Import a CSV into a Klaviyo object (profiles, lists, campaigns, events...), one log line per row',
    examples: [
      ['klv import profiles people.csv --op upsert', 'create or update profiles; people.success.csv and people.errors.csv say what happened to each row'],
      ['klv import profiles people.errors.csv --op upsert', 'retry the rows that failed: the error log is a valid input'],
      ['klv import profiles people.csv --op upsert --dry-run', 'validate every row and show what would change; nothing is written'],
      ['klv import profiles people.csv --op upsert --resume', 'continue an interrupted import without sending any row twice'],
      ['klv import list-members members.csv --op insert --map "E-mail=Email" --set ListId=Y6nRLr', 'map a header and set a column for every row'],
      ['klv import events orders.csv --op insert --unique-by Email,MetricName,Properties.order_id', 'events whose unique id comes from these columns: importing the file again never duplicates them'],
      ['cat lists.csv | klv import lists - --op delete --yes', 'from standard input; deletes need --yes when klv cannot ask'],
    ],
    description:
      'Rows are read as a stream, mapped to the object\'s columns (headers match case-insensitively,\n' +
      'ignoring spaces, _ and -; Klaviyo\'s attribute names work too), validated (emails, E.164 phone\n' +
      'numbers, dates, numbers, booleans, enums, JSON), batched into Klaviyo\'s bulk endpoints where\n' +
      'they exist, and sent under the rate limits. \'klv describe <object>\' lists the columns and\n' +
      '\'klv objects\' the operations.\n\n' +
      'Logs: every input row lands in exactly one of two CSV files, beside the input unless given:\n' +
      '  <input>.success.csv  Row, the input\'s columns, Id, Status (created, updated, deleted, ...)\n' +
      '  <input>.errors.csv   Row, the input\'s columns, ErrorCode, ErrorMessage (Klaviyo\'s or klv\'s)\n' +
      'From standard input they go to ./import-<object>-<UTC time>.*.csv; a dry run writes\n' +
      '<input>.dry-run.success.csv and .dry-run.errors.csv.\n\n' +
      'Interruptions: Ctrl-C stops reading, lets the batches in flight finish and flushes both logs\n' +
      '(exit 130). --resume continues from the logs and the journal (<error log>.journal, written\n' +
      'before each batch is sent), after Ctrl-C or a crash: rows in the logs are skipped; rows that\n' +
      'were in flight are sent again when that is harmless, else logged as unknown_outcome to check.\n\n' +
      '--json prints the summary as one JSON object on stdout.\n' +
      'Exit codes: 0 every row succeeded, 3 some rows failed (see the error log), 2 usage error or\n' +
      'broken CSV (rows before the broken line are imported), 4 key refused, 130 interrupted, 1 otherwise.',
    flags: importFlags,
    load: () => import('./commands/import.js'),
  }),
  command({
    name: 'replicate',
    args: '[objects...]',
    summary: 'Copy Klaviyo objects into SQLite, PostgreSQL or MySQL tables and keep them current',
    examples: [
      ['klv replicate', 'every object into ./klaviyo.db (SQLite); run it again to read only what changed'],
      ['klv replicate --to postgres://klv@db.internal/analytics --schema klaviyo', 'into PostgreSQL, schema klaviyo'],
      ['klv replicate campaigns email-templates lists --to mysql://klv@127.0.0.1/klaviyo', 'chosen objects into MySQL or MariaDB'],
      ['klv replicate profiles --sweep-deletes always --hard-deletes', 'also find deleted profiles, and remove their rows'],
      ['klv replicate state', 'each object\'s cursor, last complete run and last deletion check'],
      ['klv replicate state rewind events 2026-11-01', 'read events again from that time on the next run'],
      ['klv replicate state reset profiles', 'forget the state: the next run reads profiles in full'],
    ],
    description:
      'A table per object (snake_case: list_members), typed columns from the catalog (klv describe),\n' +
      'the object\'s key as primary key, indexes on reference columns, plus _klv_synced_at and\n' +
      '_klv_deleted_at. The first run reads everything; later runs read from each object\'s cursor\n' +
      'minus a lookback window (7d for events, 1h otherwise; --lookback) and upsert by key, in\n' +
      'batched transactions. State lives in the destination\'s _klv_state table and moves only once an\n' +
      'object is complete: a run killed at any point and started again converges, with no duplicates.\n' +
      'Objects are named as in klv objects; default: every object readable without a filter.\n\n' +
      'Deletions (Klaviyo cannot report them): --sweep-deletes always|never|<hours>. Default: objects\n' +
      'read in full every run (tags, coupons, metrics...) from their own read; campaigns, templates,\n' +
      'lists, segments and flows by an id-only read every run; memberships and suppressions daily;\n' +
      'profiles and events only when asked. Deleted rows get _klv_deleted_at, or go with --hard-deletes;\n' +
      'a deleted list\'s or segment\'s rows in list_members / segment_members go with it. A sweep that\n' +
      'finds no record at all, or would delete more than half of a table of 10+ live rows, is refused\n' +
      '(a bad answer is likelier than real deletions): nothing is marked, a warning gives the numbers,\n' +
      'and --allow-mass-deletes accepts it. Only a complete read counts: a sweep whose read fails marks\n' +
      'nothing (the object fails), and one that leaves a part out (a list deleted while its members were\n' +
      'read) marks nothing either: a warning says what and why, and the next run looks again.\n\n' +
      'One summary line per object on stderr (rows inserted, updated, unchanged, deleted, requests,\n' +
      'seconds; updated means the stored values changed); --json prints it as one JSON object on stdout.\n' +
      'Exit codes: 0 done (also when a sweep was incomplete: see the warning), 1 an object failed (the\n' +
      'others are replicated), 2 usage error, 3 done but a deletion sweep was refused (see the warning),\n' +
      '4 key refused, 130 interrupted.',
    flags: replicateFlags,
    load: () => import('./commands/replicate.js'),
  }),
  command({
    name: 'sync',
    args: '<object>',
    summary: 'Keep a database table and Klaviyo campaigns, templates or lists equal, both ways',
    examples: [
      ['klv sync lists --with sqlite:./klaviyo.db', 'first run: Klaviyo\'s lists into table lists, the table\'s new rows into Klaviyo'],
      ['klv sync email-templates --with postgres://klv@db/crm --table templates --conflict newest', 'a record changed on both sides: the newer edit wins, per column'],
      ['klv sync campaigns --with sqlite:./klaviyo.db --dry-run', 'list what each side would receive; write nothing'],
    ],
    description:
      'Objects: Campaigns, EmailTemplates, Lists. The table (--table, default the object\'s snake_case\n' +
      'name) has _klv_row_id (its key), Id (Klaviyo\'s id, empty for rows created in the database), the\n' +
      'synchronized columns, Klaviyo-only columns (Status, Updated), _klv_modified_at (optional, set it\n' +
      'when you edit a row, for --conflict newest) and _klv_synced_at. _klv_sync_map ties both sides.\n\n' +
      'Each run: Klaviyo\'s changes by update timestamps; the table\'s by row hashes against the last\n' +
      'synchronized values (no triggers: the same on SQLite, PostgreSQL and MySQL); inserts, updates\n' +
      'and deletes go to the other side. A column changed on both sides is a conflict: --conflict\n' +
      'klaviyo-wins (default), db-wins or newest; columns changed on one side only are merged.\n' +
      'A change Klaviyo refuses (a drag-and-drop template\'s Html, a sent campaign) is reported once\n' +
      'and not sent again until the row changes.\n\n' +
      'Logs: sync-<table>-<UTC time>.success.csv, .errors.csv and .conflicts.csv in --log-dir (default .).\n' +
      'Exit codes: 0 done, 3 some rows failed (see the error log), 2 usage error, 4 key refused, 1 otherwise.',
    flags: syncFlags,
    load: () => import('./commands/sync.js'),
  }),
  command({
    name: 'objects',
    summary: 'List the Klaviyo objects klv reads and writes, with their operations and incremental column',
    examples: [
      ['klv objects', 'every object: operations, incremental column, notes'],
      ['klv objects --json', 'the same as JSON, with aliases, keys and constraints'],
    ],
    description:
      'Incremental is the column --since reads; "(local)" means Klaviyo cannot filter it, so klv reads\n' +
      'every row and keeps the newer ones. No profile or network needed.',
    load: () => import('./commands/objects.js'),
  }),
  command({
    name: 'describe',
    args: '<object>',
    summary: 'Show an object\'s columns, types, filters and constraints',
    examples: [
      ['klv describe profiles', 'columns, whether --where on each is filtered by Klaviyo or by klv, constraints'],
      ['klv describe email-templates --json', 'as JSON, for scripts'],
    ],
    description:
      'Object names are case-insensitive, singular or plural, with or without hyphens (campaign,\n' +
      'email-templates, list_members). For each column: type, read-only or writable, required on\n' +
      'insert, exported by default or on demand (costs extra requests), and the --where operators\n' +
      'Klaviyo filters (pushed), filters a wider range of (widened) or leaves to klv (local).\n' +
      'No profile or network needed.',
    load: () => import('./commands/describe.js'),
  }),
  command({
    name: 'doctor',
    summary: 'Check the connection profile, the API key and the account it opens',
    examples: [
      ['klv doctor', 'check the default profile'],
      ['klv doctor --profile staging --verbose', 'check another profile and show each request'],
      ['klv doctor --demo', 'try klv on the built-in emulator, no Klaviyo account needed'],
    ],
    description:
      'Resolves the profile, calls GET /api/accounts and reports the account, whether the configured\n' +
      'Public API Key matches it, the API revision in use and the rate-limit headers Klaviyo sent.\n' +
      'Then the API key scopes each command needs (export, query and replicate per object; import per\n' +
      'object and operation; sync), derived from the objects and Klaviyo\'s spec, and which read scopes\n' +
      'the key lacks: one small GET per read scope. Write scopes are not checked (that would write).\n' +
      'Exits 4 when Klaviyo refuses the key; a missing scope is a warning.',
    load: () => import('./commands/doctor.js'),
  }),
  command({
    name: 'config',
    summary: 'Show or create connection profiles',
    examples: [
      ['klv config show', 'the resolved profile, where each value came from, keys redacted'],
      ['klv config init', 'create ~/.config/klv/config.yaml interactively'],
      ['klv config init --profile staging --private-key-env KLAVIYO_STAGING_KEY', 'non-interactive'],
    ],
    subcommands: [
      command({
        name: 'show',
        summary: 'Print the resolved profile and where each value came from (keys redacted)',
        examples: [
          ['klv config show', 'the default profile'],
          ['klv config show --profile staging --json', 'as JSON'],
        ],
        load: () => import('./commands/config-show.js'),
      }),
      command({
        name: 'init',
        summary: 'Write a profile to a config file with mode 0600',
        examples: [
          ['klv config init', 'asks for the key and settings (on a terminal)'],
          ['klv config init --private-key-env KLAVIYO_PRIVATE_API_KEY', 'reference an environment variable'],
          ['klv config init --path .klaviyorc.yaml --private-key-file ~/.klaviyo-key', 'a project file'],
        ],
        flags: configInitFlags,
        load: () => import('./commands/config-init.js'),
      }),
    ],
  }),
  command({
    name: 'emulator',
    summary: 'Run the built-in Klaviyo emulator on loopback (for tests, demos and benchmarks)',
    examples: [
      ['klv emulator --port 8787', 'serve the demo account on http://127.0.0.1:8787'],
      ['klv emulator --port 0 --rate-limits off', 'a free port, no rate limits: fast tests'],
      ['klv emulator --profiles 1000000 --faults 0.1', 'a large account where a tenth of requests fail'],
      ['klv emulator --port 0 --faults 0.05 --fault-kinds all --slow-ms 3000 --job-faults 0.2', 'every kind of fault, in turn, and some bulk import jobs cancelled half-way'],
      ['klv emulator --port 0 --quirks html-200=0.1,unsorted-pages,microseconds', "some of the real API's quirks: HTML answers, unsorted pages, microsecond datetimes"],
      ['klv emulator --key pk_test_123456 --scopes profiles:read,lists:read', 'accept only this key, which may read profiles and lists (403 elsewhere)'],
      ['KLAVIYO_BASE_URL=http://127.0.0.1:8787 KLAVIYO_PRIVATE_API_KEY=pk_test_123456 klv doctor', 'point klv at it'],
    ],
    description:
      'A real HTTP server that behaves as Klaviyo\'s OpenAPI spec says: API keys, revision header,\n' +
      'page sizes, filters, sorts, sparse fieldsets, includes, rate limits (429 + Retry-After) and\n' +
      'JSON:API errors. Runs until Ctrl-C.\n\n' +
      'One account: every key shares its rate-limit windows, as Klaviyo counts them per account.\n' +
      'A key with scopes gets 403 permission_denied where the spec asks for a scope it lacks; a\n' +
      ':write scope includes :read of the same resource (Klaviyo\'s full access).\n\n' +
      'Fault kinds (--fault-kinds, handed out in turn to the --faults fraction of /api requests):\n' +
      '  500, 502, 503   that status with a JSON:API error; nothing changes\n' +
      '  drop            connection closed before the request is handled; nothing changes\n' +
      '  drop-after      the request is handled (the account changes), then the connection is closed\n' +
      '                  without a response\n' +
      '  slow            handled, then answered after --slow-ms\n' +
      '  429             a storm: every /api request is answered 429 (Retry-After) for --storm-ms\n\n' +
      'Quirks (--quirks, real-world behaviours the spec does not describe; transient ones hit the\n' +
      'given fraction of eligible requests, default 0.2, structural ones are on or off):\n' +
      '  html-200=R        the edge answers 200 text/html (request not handled)\n' +
      '  cf-challenge=R    Cloudflare\'s 403 challenge page, cf-mitigated: challenge (not handled)\n' +
      '  truncated-json=R  a 2xx JSON body cut in half (handled)\n' +
      '  empty-200=R       a 2xx JSON answer as 200 with an empty body (handled)\n' +
      '  repeat-cursor=R   links.next names the page just served\n' +
      '  expired-cursor=R  a page[cursor] GET answered 400: invalid or expired cursor (not handled)\n' +
      '  unsorted-pages    pages slightly out of order, also across page boundaries\n' +
      '  inclusive-bounds  greater-than and less-than also match the bound\n' +
      '  no-retry-after    429s without Retry-After, "Expected available in 0 seconds."\n' +
      '  klaviyo-host-links  links name https://a.klaviyo.com instead of the emulator\n' +
      '  microseconds      datetimes with six fraction digits and +00:00\n' +
      '  space-datetimes   some datetimes as YYYY-MM-DD HH:MM:SS (events, profiles, campaigns)\n' +
      '  archived-flows-hidden  GET /api/flows leaves archived flows out unless filtered on archived\n\n' +
      'Admin endpoints (no key needed):\n' +
      '  POST /_emulator/reset         back to the initial data\n' +
      '  POST /_emulator/load          replace the account with a JSON snapshot\n' +
      '  GET  /_emulator/state         the account as a JSON snapshot\n' +
      '  GET  /_emulator/requests      {"total": N, "byOperation": {...}}; DELETE zeroes the counts\n' +
      '  GET  /_emulator/faults        fault settings and how many of each kind were injected\n' +
      '  POST /_emulator/faults        change any of {"rate", "kinds", "slowMs", "stormMs", "jobFailRate"}\n' +
      '  GET  /_emulator/quirks        {"quirks": {the ones on: rate}, "injected": {every quirk: count}}\n' +
      '  POST /_emulator/quirks        change quirks: {"html-200": 0.5, "unsorted-pages": true, "microseconds": false}\n' +
      '  POST /_emulator/confirm-subscriptions  confirm pending double opt-ins (optional {"listId", "profileId"})\n' +
      '  POST /_emulator/rate-limits   {"mode": "off"} or {"mode": "spec"}; {"reset": true} empties every window\n' +
      '  POST /_emulator/keys          {"key": "pk_...", "scopes": ["profiles:read", ...]}: accept another key\n' +
      'KLV_EMULATOR_RECORD=FILE appends every exchange to FILE as NDJSON (never the key).',
    flags: emulatorFlags,
    load: () => import('./commands/emulator.js'),
    runsUntilInterrupted: true,
  }),
];


export const HELP_TOPICS: Record<string, { summary: string; load: () => Promise<string> }> = {
  'exit-codes': {
    summary: 'What klv\'s exit codes mean',
    load: async () => (await import('../core/exit-code.js')).EXIT_CODE_HELP,
  },
  environment: {
    summary: 'Environment variables klv reads',
    load: async () => ENVIRONMENT_HELP,
  },
  profiles: {
    summary: 'Where connection profiles are read from, and their shape',
    load: async () => CONFIG_HELP,
  },
};

const ENVIRONMENT_HELP = `Environment variables

  KLAVIYO_PROFILE            profile to use (like --profile)
  KLAVIYO_PRIVATE_API_KEY    Private API Key; overrides the profile's key
  KLAVIYO_PUBLIC_API_KEY     Public API Key (site id); overrides the profile's
  KLAVIYO_BASE_URL           API base URL; overrides the profile's (http:// only on loopback)
  KLAVIYO_REVISION           API revision; overrides the profile's
  XDG_CONFIG_HOME            user config lives in $XDG_CONFIG_HOME/klv/config.yaml (default ~/.config)
  KLV_DEBUG=http             write the request journal to stderr (like --verbose)
  KLV_TIMEOUT                seconds klv waits for a response (headers, then each body chunk) before
                             counting the request as failed (default 60; fractions allowed, e.g. 0.5).
                             A timed-out GET is retried; a timed-out write that is not idempotent
                             has an unknown outcome
  KLV_MAX_RETRY_AFTER        longest Retry-After (seconds) klv waits out after a 429 (default 300).
                             Klaviyo asking for longer (a daily cap) stops the command with exit 1
                             and the time to come back, instead of sleeping in silence
  KLV_MAX_RESPONSE_MB        largest response body klv reads (default 50); a larger one fails
                             its request (Klaviyo's pages are far smaller)
  NO_COLOR                   no colour in messages
  KLV_NOW                    ISO time used as 'now' by doctor's revision-age check and export --since 7d (tests)
  KLV_OPENAPI_SPEC           path to Klaviyo's OpenAPI spec (for npm run gen:api and the tests)
`;

const CONFIG_HELP = `Connection profiles

klv reads these files:
  - a project file: the "klaviyo" key of package.json, .klaviyorc, .klaviyorc.json,
    .klaviyorc.yaml or .klaviyorc.yml, searched from the current folder up to the project root
    (the first folder with a package.json) or your home folder; no .js/.ts config: klv never
    executes code found in a folder. Files owned by another user are ignored.
  - the user file $XDG_CONFIG_HOME/klv/config.yaml (default ~/.config/klv/config.yaml).
  - --config <file> reads only that file (no search, no user file).
Values merge per setting: flags > environment > project file > user file > defaults.

Shape (YAML):
  profiles:
    default:
      privateKeyEnv: KLAVIYO_PRIVATE_API_KEY   # or privateKey: pk_..., or privateKeyFile: ~/.klaviyo-key
      publicKey: AbC123                        # site id, optional
      revision: "2026-07-15"                   # optional
      concurrency: 4                           # optional
    staging:
      privateKeyFile: ~/.klaviyo-staging-key
      baseUrl: https://a.klaviyo.com

Select with --profile NAME or KLAVIYO_PROFILE. A file holding a literal key must be readable by
you only (chmod 600): klv warns otherwise. See .klaviyorc.example.
`;
