/**
 * `klv config show`: the resolved connection profile, each value with where it came from, the
 * key redacted. Data goes to stdout (a table, or JSON with --json); warnings go to stderr.
 */
import type { CommandContext } from '../context.js';
import type { ResolvedProfile } from '../../config/profile.js';

/** The profile as shown to people and scripts: never the key itself, only its redacted form. */
export function describeProfile(profile: ResolvedProfile): {
  name: string;
  values: Record<string, { value: string | number | null; source: string | null }>;
  files: string[];
  warnings: string[];
} {
  const value = (v: string | number | undefined, key: string) => ({
    value: v ?? null,
    source: profile.sources[key] ?? null,
  });
  return {
    name: profile.name,
    values: {
      profile: value(profile.name, 'profile'),
      privateKey: value(profile.privateKey.redacted, 'privateKey'),
      publicKey: value(profile.publicKey, 'publicKey'),
      revision: value(profile.revision, 'revision'),
      baseUrl: value(profile.baseUrl, 'baseUrl'),
      concurrency: value(profile.concurrency, 'concurrency'),
    },
    files: profile.files,
    warnings: profile.warnings,
  };
}

export function formatProfile(profile: ResolvedProfile): string {
  const d = describeProfile(profile);
  const rows = Object.entries(d.values).map(([key, { value, source }]) => [
    key,
    value === null ? '(not set)' : String(value),
    source ?? (key === 'publicKey' ? 'set it to let klv doctor check the key belongs to the same account' : ''),
  ]);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const lines = rows.map(([k, v, s]) => `${k.padEnd(w0)}  ${v.padEnd(w1)}  ${s}`.trimEnd());
  lines.push('', d.files.length > 0 ? 'Files read:' : 'Files read: none');
  for (const f of d.files) lines.push(`  ${f}`);
  return `${lines.join('\n')}\n`;
}

export async function run(ctx: CommandContext): Promise<number> {
  const profile = await ctx.profile();
  if (ctx.io.json) ctx.io.data(JSON.stringify(describeProfile(profile), null, 2));
  else ctx.io.data(formatProfile(profile));
  return 0;
}
