/**
 * The command table: names, flags, help text and examples. Implementations are loaded lazily.
 */
import { Option, type Command } from 'commander';
import type { CommandSpec } from './command-spec.js';

export const COMMANDS: CommandSpec[] = [
  {
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
      'Exits 4 when Klaviyo refuses the key.',
    load: () => import('./commands/doctor.js'),
  },
  {
    name: 'config',
    summary: 'Show or create connection profiles',
    examples: [
      ['klv config show', 'the resolved profile, where each value came from, keys redacted'],
      ['klv config init', 'create ~/.config/klv/config.yaml interactively'],
      ['klv config init --profile staging --private-key-env KLAVIYO_STAGING_KEY', 'non-interactive'],
    ],
    subcommands: [
      {
        name: 'show',
        summary: 'Print the resolved profile and where each value came from (keys redacted)',
        examples: [
          ['klv config show', 'the default profile'],
          ['klv config show --profile staging --json', 'as JSON'],
        ],
        load: () => import('./commands/config-show.js'),
      },
      {
        name: 'init',
        summary: 'Write a profile to a config file with mode 0600',
        examples: [
          ['klv config init', 'asks for the key and settings (on a terminal)'],
          ['klv config init --private-key-env KLAVIYO_PRIVATE_API_KEY', 'reference an environment variable'],
          ['klv config init --path .klaviyorc.yaml --private-key-file ~/.klaviyo-key', 'a project file'],
        ],
        configure(cmd: Command) {
          cmd
            .option('--path <file>', 'file to write (default: $XDG_CONFIG_HOME/klv/config.yaml)')
            .option('--private-key-env <VAR>', 'read the Private API Key from this environment variable')
            .option('--private-key-file <path>', 'read the Private API Key from this file')
            .option('--private-key-stdin', 'read the Private API Key from standard input and store it in the file')
            .option('--public-key <siteId>', 'the Public API Key (site id)')
            .option('--revision <YYYY-MM-DD>', 'API revision to pin')
            .option('--base-url <url>', 'API base URL (default https://a.klaviyo.com)')
            .option('--force', 'replace an existing profile of the same name');
        },
        load: () => import('./commands/config-init.js'),
      },
    ],
  },
  {
    name: 'emulator',
    summary: 'Run the built-in Klaviyo emulator on loopback (for tests, demos and benchmarks)',
    examples: [
      ['klv emulator --port 8787', 'serve the demo account on http://127.0.0.1:8787'],
      ['klv emulator --port 0 --rate-limits off', 'a free port, no rate limits: fast tests'],
      ['klv emulator --profiles 1000000 --faults 0.1', 'a large account where a tenth of requests fail'],
      ['KLAVIYO_BASE_URL=http://127.0.0.1:8787 KLAVIYO_PRIVATE_API_KEY=pk_test_123456 klv doctor', 'point klv at it'],
    ],
    description:
      'A real HTTP server that behaves as Klaviyo\'s OpenAPI spec says: API keys, revision header,\n' +
      'page sizes, filters, sorts, sparse fieldsets, includes, rate limits (429 + Retry-After) and\n' +
      'JSON:API errors. Runs until Ctrl-C.\n\n' +
      'Admin endpoints (no key needed):\n' +
      '  POST /_emulator/reset         back to the initial data\n' +
      '  POST /_emulator/load          replace the account with a JSON snapshot\n' +
      '  GET  /_emulator/state         the account as a JSON snapshot\n' +
      '  GET  /_emulator/requests      {"total": N, "byOperation": {...}}; DELETE zeroes the counts\n' +
      '  POST /_emulator/faults        {"rate": 0.2} changes the fault rate\n' +
      '  POST /_emulator/rate-limits   {"mode": "off"} or {"mode": "spec"}\n' +
      'KLV_EMULATOR_RECORD=FILE appends every exchange to FILE as NDJSON (never the key).',
    configure(cmd: Command) {
      cmd
        .option('--host <host>', 'loopback address to listen on', '127.0.0.1')
        .option('--port <n>', 'port (0 picks a free one)', '8787')
        .option('--data <demo|empty|FILE>', 'initial account: the demo account, an empty one, or a JSON file', 'demo')
        .option('--profiles <n>', 'number of profiles in the demo account', '2000')
        .addOption(new Option('--rate-limits <mode>', 'enforce the spec\'s rate limits').choices(['spec', 'off']).default('spec'))
        .option('--faults <rate>', 'fraction of requests answered with a 5xx or a dropped connection', '0')
        .option('--latency <ms>', 'delay added to every response', '0')
        .option('--key <pk_...>', 'accept only this private key (default: any key starting with pk_)')
        .option('--seed <n>', 'seed for demo data and fault injection', '1');
    },
    load: () => import('./commands/emulator.js'),
    runsUntilInterrupted: true,
  },
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
  NO_COLOR                   no colour in messages
  KLV_NOW                    ISO time used as 'now' by klv doctor's revision-age check (tests)
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
