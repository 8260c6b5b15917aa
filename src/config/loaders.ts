/**
 * Parsers for config files. Parse errors name the file, the line and the column, but never quote
 * the offending text: YAML and JSON parsers show the surrounding lines, and in a config file the
 * line next to a syntax error is often the one holding the Private API Key.
 */
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigError } from '../core/errors.js';
import { safeEcho } from './redact.js';

export function loadYamlConfig(filepath: string, content: string): unknown {
  try {
    // The core schema keeps `revision: 2026-07-15` a string (YAML 1.1 would make it a date).
    return parseYaml(content, { schema: 'core', prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const [pos] = err.linePos ?? [];
      // First line only, without the " at line L, column C:" suffix: the rest is a source excerpt.
      const reason = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      const where = pos ? `line ${pos.line}, column ${pos.col}` : 'an unknown position';
      throw new ConfigError(`Invalid YAML at ${where}: ${safeEcho(reason, 160)}`, {
        file: filepath,
        hint: 'Fix the file (indent with spaces, quote values that contain ": " or start with special characters), or move it away.',
      });
    }
    throw err;
  }
}

export function loadJsonConfig(filepath: string, content: string): unknown {
  try {
    return JSON.parse(content);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const position = /at position (\d+)/.exec(message);
    let where = '';
    if (position) {
      const { line, col } = lineAndColumn(content, Number(position[1]));
      where = ` at line ${line}, column ${col}`;
    } else if (/end of JSON input/.test(message)) {
      where = ' at the end of the file (is it cut short?)';
    }
    // V8 sometimes quotes the input in its message ("... "pk_..." is not valid JSON"): keep only
    // the part before any quote.
    const reason = message.replace(/ in JSON at position \d+.*$/, '').split('"')[0].trim();
    throw new ConfigError(`Invalid JSON${where}: ${safeEcho(reason || 'syntax error', 160)}`, {
      file: filepath,
      hint: 'Fix the file (JSON allows no comments and no trailing commas), or write it as YAML (.klaviyorc.yaml).',
    });
  }
}

/** Refuses configs that would have to be executed: a tool holding API keys runs no code it finds. */
export function refuseCodeConfig(filepath: string): never {
  throw new ConfigError('klv does not read JavaScript or TypeScript config files: it never executes code from a config file', {
    file: filepath,
    hint: 'Write the profiles as YAML or JSON instead (.klaviyorc.yaml, .klaviyorc.json); see .klaviyorc.example.',
  });
}

export function lineAndColumn(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const col = offset - (before.lastIndexOf('\n') + 1) + 1;
  return { line, col };
}
