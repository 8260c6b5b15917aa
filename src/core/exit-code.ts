/** The process exit codes klv uses. Documented for users by `klv help exit-codes`. */
export const ExitCode = {
  Ok: 0,
  Failure: 1,
  Usage: 2,
  RowsRejected: 3,
  Auth: 4,
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODE_HELP = `Exit codes

  0    Success: everything asked for was done.
  1    Unexpected failure: a bug, a network failure that outlasted every retry,
       or a Klaviyo error that is not about a single row.
  2    Usage or configuration error: wrong flags or arguments, an unknown profile,
       an invalid config file, a missing or malformed API key. Nothing was sent.
  3    Finished, but some rows were rejected: see the error log for each of them
       (replicate: a deletion sweep was refused as suspicious; see its warning).
  4    Authentication or permission refused by Klaviyo (401/403): check the key
       and its scopes.
  130  Interrupted (Ctrl-C). Logs are flushed; a resumed run does not duplicate rows.

Scripts can rely on these codes: they are part of klv's interface.
`;
