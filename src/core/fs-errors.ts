/**
 * Filesystem failures in words. A full disk is the one a long import or export is most likely to
 * meet, and "ENOSPC: no space left on device, write" says neither which file nor what to do; the
 * callers add the file and the fix, this module says what happened.
 */

/** Error codes that mean "no room left to write", from the OS (ENOSPC, EDQUOT) or SQLite. */
const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The first error in `err`'s cause chain that says the disk is full, if any. */
export function diskFullError(err: unknown): (Error & { code: string }) | undefined {
  const seen = new Set<unknown>();
  for (let e = err; e !== undefined && e !== null && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const code = codeOf(e);
    if (code !== undefined && DISK_FULL_CODES.has(code)) return e as Error & { code: string };
  }
  return undefined;
}

/** Whether `err` (or what caused it) means the disk holding the file is full. */
export function isDiskFull(err: unknown): boolean {
  return diskFullError(err) !== undefined;
}

/**
 * Why opening or writing a file failed, as the end of a sentence ("Cannot write X: <reason>.").
 * Codes nobody can act on by name keep the system's message.
 */
export function fsFailureReason(err: unknown): string {
  switch (codeOf(err)) {
    case 'ENOSPC':
      return 'no space left on the device (ENOSPC): the disk is full';
    case 'EDQUOT':
      return 'your disk quota is used up (EDQUOT): the disk is full for you';
    case 'SQLITE_FULL':
      return 'the database or its disk is full (SQLITE_FULL)';
    case 'EFBIG':
      return 'the file has grown larger than its file system allows (EFBIG)';
    case 'EIO':
      return 'the disk reported an input/output error (EIO)';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOENT':
      return 'its folder does not exist';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a folder';
    case 'ENOTDIR':
      return 'a part of its path is a file, not a folder';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/** The fix for a full disk, for hints. */
export const FREE_SPACE = 'Free some space on that disk';
