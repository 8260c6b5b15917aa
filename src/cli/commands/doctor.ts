/**
 * `klv doctor`: resolves the profile, calls GET /api/accounts once and reports what a user needs
 * to trust the set-up: which key (redacted) from where, the account it opens, whether the
 * Public API Key belongs to the same account, the API revision's lifecycle and the rate-limit
 * headers Klaviyo sent; then the scopes each command needs and which read scopes the key lacks
 * (doctor-scopes.ts: one small GET per read scope). Human layout on stderr, or one JSON object on
 * stdout with --json.
 *
 * Exit codes: 0 when every check passes (warnings allowed: a key may lack scopes on purpose), 1
 * when a check fails (key pair from two accounts, retired revision, no account), 4 when Klaviyo
 * refuses the key (401/403 on GET /api/accounts).
 *
 * The clock: `KLV_NOW` (an ISO date, e.g. 2027-08-01 or 2027-08-01T12:00:00Z) replaces the
 * current time when judging the revision's age, so tests (and "will this still work next
 * year?") do not depend on the real date.
 */
import type { CommandContext } from '../context.js';
import type { ChalkInstance } from 'chalk';
import { AuthError, KlvError, UsageError } from '../../core/errors.js';
import type { ResolvedProfile } from '../../config/profile.js';
import { DEFAULT_REVISION } from '../../config/profile.js';
import { revisionLifecycle, type RevisionLifecycle } from '../../config/revision.js';
import { OPERATIONS } from '../../klaviyo/generated/api-metadata.js';
import { buildScopeReport, commandScopes, formatScopeSection, probeScopes, scopeFindings, scopeSummary, scopesToCheck, type ScopeReport } from './doctor-scopes.js';

/** The parts of Klaviyo's answer the doctor reads (contract 2's ApiResponse). */
export interface AccountsResponse {
  status: number;
  body: unknown;
  rateLimit: { limit?: number; remaining?: number; reset?: number };
  requestId?: string;
}

export interface AccountSummary {
  id: string;
  organizationName: string | null;
  timezone: string | null;
  currency: string | null;
  testAccount: boolean | null;
  publicApiKey: string | null;
}

export type PublicKeyStatus = 'ok' | 'mismatch' | 'not configured' | 'unknown';

export interface Finding {
  level: 'error' | 'warning' | 'note';
  message: string;
  hint?: string;
}

export interface DoctorReport {
  ok: boolean;
  profile: { name: string; source: string };
  privateKey: { redacted: string; source: string };
  baseUrl: { value: string; source: string };
  account: AccountSummary | null;
  publicKey: { status: PublicKeyStatus; configured: string | null; account: string | null; source: string | null };
  revision: RevisionLifecycle & { source: string };
  rateLimit: {
    limit: number | null;
    remaining: number | null;
    reset: number | null;
    /** What the spec says GET /api/accounts allows. */
    spec: { burstPerSecond: number | null; steadyPerMinute: number | null };
  };
  requestId: string | null;
  /** The scopes each command needs and what the checks found; null when they were not checked. */
  scopes: ScopeReport | null;
  findings: Finding[];
}

/** The time to judge revisions by: KLV_NOW when set (tests), else the real clock. */
export function doctorNow(env: NodeJS.ProcessEnv, clock: () => Date = () => new Date()): Date {
  const override = env.KLV_NOW;
  if (override === undefined || override === '') return clock();
  const date = new Date(override);
  if (Number.isNaN(date.getTime())) {
    throw new UsageError(`KLV_NOW '${override.slice(0, 40)}' is not an ISO date`, 'Use e.g. KLV_NOW=2027-08-01 or unset it.');
  }
  return date;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

/** The first account of a GET /api/accounts body, or null when there is none. */
export function accountOf(body: unknown): AccountSummary | null {
  const data = (body as { data?: unknown } | null)?.data;
  const first = Array.isArray(data) ? data[0] : data;
  if (!first || typeof first !== 'object') return null;
  const resource = first as { id?: unknown; attributes?: Record<string, unknown> };
  const a = resource.attributes ?? {};
  const contact = (a.contact_information ?? {}) as Record<string, unknown>;
  return {
    id: String(resource.id ?? ''),
    organizationName: str(contact.organization_name),
    timezone: str(a.timezone),
    currency: str(a.preferred_currency),
    testAccount: typeof a.test_account === 'boolean' ? a.test_account : null,
    publicApiKey: str(a.public_api_key),
  };
}

/** Pure: the report for a profile and Klaviyo's answer, judged on `now`, with the scope checks when made. */
export function buildDoctorReport(profile: ResolvedProfile, response: AccountsResponse, now: Date, scopes: ScopeReport | null = null): DoctorReport {
  const findings: Finding[] = [];
  const account = accountOf(response.body);
  const profileFlag = profile.name === 'default' ? '' : ` --profile ${profile.name}`;
  if (!account) {
    findings.push({
      level: 'error',
      message: 'Klaviyo answered GET /api/accounts without an account',
      hint: `Check that the base URL (${profile.baseUrl}) is Klaviyo's API or its emulator.`,
    });
  }

  let publicStatus: PublicKeyStatus;
  const accountPublic = account?.publicApiKey ?? null;
  if (profile.publicKey === undefined) {
    publicStatus = 'not configured';
    findings.push({
      level: 'note',
      message: 'No Public API Key is configured',
      hint: accountPublic
        ? `This account's is ${accountPublic}: klv config init${profileFlag} --public-key ${accountPublic} --force, or set KLAVIYO_PUBLIC_API_KEY=${accountPublic}.`
        : 'Set publicKey in the profile or KLAVIYO_PUBLIC_API_KEY.',
    });
  } else if (accountPublic === null) {
    publicStatus = 'unknown';
  } else if (accountPublic === profile.publicKey) {
    publicStatus = 'ok';
  } else {
    publicStatus = 'mismatch';
    findings.push({
      level: 'error',
      message: `The configured Public API Key ${profile.publicKey} (${profile.sources.publicKey ?? 'unknown source'}) belongs to another account: this key's account has ${accountPublic}`,
      hint: `The private and public keys come from two accounts. Fix publicKey (or KLAVIYO_PUBLIC_API_KEY) to ${accountPublic}, or use the private key of the other account.`,
    });
  }

  const lifecycle = revisionLifecycle(profile.revision, now);
  const keepCurrent = `Set revision: "${DEFAULT_REVISION}" in the profile (or remove revision to use klv's default, ${DEFAULT_REVISION}), after checking Klaviyo's changelog.`;
  if (lifecycle.status === 'retired') {
    findings.push({
      level: 'error',
      message: `API revision ${profile.revision} was retired on ${lifecycle.retiredOn}: Klaviyo may answer 410 or silently use a newer revision`,
      hint: keepCurrent,
    });
  } else if (lifecycle.status === 'deprecated') {
    findings.push({
      level: 'warning',
      message: `API revision ${profile.revision} is deprecated since ${lifecycle.deprecatedOn} and will be retired on ${lifecycle.retiredOn}`,
      hint: keepCurrent,
    });
  } else if (lifecycle.status === 'future') {
    findings.push({
      level: 'warning',
      message: `API revision ${profile.revision} is dated after today (${now.toISOString().slice(0, 10)})`,
      hint: 'Klaviyo rejects revisions it has not released; check the revision for a typo.',
    });
  }
  if (account?.testAccount) {
    findings.push({ level: 'note', message: 'This is a Klaviyo test account' });
  }
  if (scopes) findings.push(...scopeFindings(scopes));

  const spec = OPERATIONS.get_accounts.rateLimit;
  return {
    ok: !findings.some((f) => f.level === 'error'),
    profile: { name: profile.name, source: profile.sources.profile ?? 'default' },
    privateKey: { redacted: profile.privateKey.redacted, source: profile.sources.privateKey ?? 'unknown' },
    baseUrl: { value: profile.baseUrl, source: profile.sources.baseUrl ?? 'default' },
    account,
    publicKey: {
      status: publicStatus,
      configured: profile.publicKey ?? null,
      account: accountPublic,
      source: profile.sources.publicKey ?? null,
    },
    revision: { ...lifecycle, source: profile.sources.revision ?? 'default' },
    rateLimit: {
      limit: response.rateLimit.limit ?? null,
      remaining: response.rateLimit.remaining ?? null,
      reset: response.rateLimit.reset ?? null,
      spec: { burstPerSecond: spec.burst, steadyPerMinute: spec.steady },
    },
    requestId: response.requestId ?? null,
    scopes,
    findings,
  };
}

/** Pure: the report as people read it. */
export function formatDoctorReport(r: DoctorReport, style: ChalkInstance): string {
  const rows: Array<[string, string]> = [];
  rows.push(['Profile', `${r.profile.name} ${style.dim(`(${r.profile.source})`)}`]);
  rows.push(['Private key', `${r.privateKey.redacted} ${style.dim(`from ${r.privateKey.source}`)}`]);
  rows.push(['Base URL', `${r.baseUrl.value} ${style.dim(`(${r.baseUrl.source})`)}`]);
  if (r.account) {
    const a = r.account;
    rows.push(['Account', `${a.organizationName ?? '(no organization name)'} ${style.dim(`id ${a.id}`)}`]);
    rows.push(['', `timezone ${a.timezone ?? '?'}, currency ${a.currency ?? '?'}, test account: ${a.testAccount === null ? '?' : a.testAccount ? 'yes' : 'no'}`]);
  } else {
    rows.push(['Account', style.red('none returned')]);
  }
  const pk = r.publicKey;
  const publicText =
    pk.status === 'ok'
      ? `${style.green('ok')} ${pk.configured} matches the account`
      : pk.status === 'mismatch'
        ? `${style.red('mismatch')} configured ${pk.configured}, account has ${pk.account}`
        : pk.status === 'not configured'
          ? `${style.yellow('not configured')}${pk.account ? ` (the account's is ${pk.account})` : ''}`
          : `${pk.configured} (the account did not report its own)`;
  rows.push(['Public key', publicText]);
  const rev = r.revision;
  const revText =
    rev.status === 'stable'
      ? `${rev.revision} ${style.green('stable')} until ${rev.deprecatedOn}, retired ${rev.retiredOn}`
      : rev.status === 'deprecated'
        ? `${rev.revision} ${style.yellow('deprecated')} since ${rev.deprecatedOn}, retired ${rev.retiredOn}`
        : rev.status === 'retired'
          ? `${rev.revision} ${style.red('retired')} since ${rev.retiredOn}`
          : `${rev.revision} ${style.yellow('not yet released')}`;
  rows.push(['Revision', `${revText} ${style.dim(`(${rev.source})`)}`]);
  const rl = r.rateLimit;
  const specText = `spec: ${rl.spec.burstPerSecond}/s, ${rl.spec.steadyPerMinute}/min for this endpoint`;
  rows.push([
    'Rate limit',
    rl.limit === null && rl.remaining === null
      ? `no RateLimit headers in the answer ${style.dim(`(${specText})`)}`
      : `${rl.remaining ?? '?'} of ${rl.limit ?? '?'} left in this window${rl.reset === null ? '' : `, resets in ${rl.reset} s`} ${style.dim(`(${specText})`)}`,
  ]);
  if (r.scopes && r.scopes.checked.length > 0) rows.push(['Scopes', scopeSummary(r.scopes, style)]);
  if (r.requestId) rows.push(['Request id', r.requestId]);

  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  if (r.scopes && r.scopes.scopes.length > 0) lines.push('', ...formatScopeSection(r.scopes, style));
  lines.push('');
  for (const f of r.findings) {
    const label = f.level === 'error' ? style.red('error:') : f.level === 'warning' ? style.yellow('warning:') : style.cyan('note:');
    lines.push(`${label} ${f.message}`);
    if (f.hint) lines.push(`  ${style.dim(f.hint)}`);
  }
  lines.push(r.ok ? style.green('All checks passed.') : style.red('Some checks failed (see the errors above).'));
  return `${lines.join('\n')}\n`;
}

function isApiError(err: unknown): err is Error & { status: number; hint?: string } {
  return err instanceof Error && err.name === 'KlaviyoApiError' && typeof (err as { status?: unknown }).status === 'number';
}

/** Klaviyo refused the key: say which key, from where, and what to check. Exit 4. */
export function authFailure(profile: ResolvedProfile, err: Error & { status: number }): AuthError {
  const profileFlag = profile.name === 'default' ? '' : ` --profile ${profile.name}`;
  const key = `${profile.privateKey.redacted} (from ${profile.sources.privateKey ?? 'unknown source'})`;
  const base = `Klaviyo refused the Private API Key of profile '${profile.name}' at ${profile.baseUrl}: ${err.message}`;
  const hint =
    err.status === 403
      ? `The key ${key} is valid but lacks the scope accounts:read, which klv doctor needs. ` +
        `In Klaviyo (Settings > API keys) give it Read access to Accounts, or use a key that has it. See where the key came from: klv config show${profileFlag}`
      : `Check the key ${key}: is it this account's key, and not revoked (Klaviyo > Settings > API keys)? ` +
        `See what klv resolved and from where: klv config show${profileFlag}`;
  return new AuthError(base, hint, err);
}

export async function run(ctx: CommandContext): Promise<number> {
  const now = doctorNow(ctx.io.env);
  const profile = await ctx.profile();
  // A connection check: fail fast rather than retry an unreachable host for long.
  const client = await ctx.client({ maxRetries: 2 });
  let response: AccountsResponse;
  try {
    response = await client.request('get_accounts');
  } catch (err) {
    if (isApiError(err) && (err.status === 401 || err.status === 403)) throw authFailure(profile, err);
    if (isApiError(err) && revisionLifecycle(profile.revision, now).status === 'retired') {
      throw new KlvError(`${err.message}`, {
        hint: `The profile uses API revision ${profile.revision}, which is retired; set revision: "${DEFAULT_REVISION}" or remove it.`,
        cause: err,
      });
    }
    throw err;
  }
  const needs = commandScopes();
  const checked = await probeScopes(client, scopesToCheck(needs), ctx.signal);
  const report = buildDoctorReport(profile, response, now, buildScopeReport(needs, checked));
  if (ctx.io.json) ctx.io.data(JSON.stringify(report, null, 2));
  else ctx.io.stderr.write(formatDoctorReport(report, ctx.io.style));
  return report.ok ? 0 : 1;
}
