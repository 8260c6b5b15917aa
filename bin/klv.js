#!/usr/bin/env node
// Thin launcher: all logic lives in dist/cli/main.js (built from src/ by `npm run build`).
import { main } from '../dist/cli/main.js';
import { fsFailureReason } from '../dist/core/fs-errors.js';

// `klv export ... | head` closes stdout early: that is the reader's choice, not a failure.
// Any other failure to write standard output (a redirect to a full disk, say) loses data: say
// so in words and exit 1, rather than with a stack trace.
process.stdout.on('error', (err) => {
  if (err && err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  process.stderr.write(
    `error: Cannot write to standard output: ${fsFailureReason(err)}.\n` +
      'hint: What klv wrote before this is incomplete. Free some space, or write to a file with -o FILE (klv writes FILE.partial and renames it when complete).\n',
  );
  process.exit(1);
});

// lastResort: an error nobody caught ends as one scrubbed klv error and exit 1, never a raw stack.
main(process.argv, undefined, { lastResort: true }).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    // main() reports its own errors; this is only reached if that reporting itself failed.
    process.stderr.write(`error: unexpected failure: ${err && err.message ? err.message.replace(/pk_[A-Za-z0-9_]{6,}/g, 'pk_…') : 'unknown'}\n`);
    process.exitCode = 1;
  },
);
