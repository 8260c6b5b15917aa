// Loaded with `node --import` by the lazy-loading test: records every module URL the process
// resolves into the file named by KLV_RECORD_IMPORTS, one per line.
import { register } from 'node:module';

register(new URL('./record-imports-hooks.mjs', import.meta.url), {
  data: { file: process.env.KLV_RECORD_IMPORTS },
});
