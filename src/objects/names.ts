/**
 * Name matching shared by objects and columns: case-insensitive, ignoring spaces, underscores,
 * hyphens and dots, so `list_members`, `List Members` and `ListMembers` are one name; plus the
 * nearest-name suggestion used in error messages.
 */

export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[\s_\-.]/g, '');
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = above;
    }
  }
  return prev[b.length];
}

/** Up to `max` candidates close to `input`, best first; prefix and substring matches count as close. */
export function nearestNames(input: string, candidates: readonly string[], max = 3): string[] {
  const n = normalizeName(input);
  const scored = candidates.map((c) => {
    const cn = normalizeName(c);
    let score = editDistance(n, cn);
    if (n.length >= 3 && (cn.startsWith(n) || cn.includes(n) || n.includes(cn))) score = Math.min(score, 1);
    return { c, score };
  });
  const limit = Math.max(2, Math.floor(n.length / 3));
  return scored
    .filter((s) => s.score <= limit)
    .sort((a, b) => a.score - b.score || a.c.localeCompare(b.c))
    .slice(0, max)
    .map((s) => s.c);
}
