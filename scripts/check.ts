/**
 * `npm run check`: the static checks `npm test` runs before Vitest (format, lint, types of the server
 * and of the console, layer rules). They are independent, so they run at once: one after another they
 * took about 50 s of the suite's 2-minute budget on a 2-core machine, mostly waiting on one core. Each
 * check's output is printed whole, in this order, once all have finished; the exit code is non-zero if
 * any failed.
 *
 * Prettier keeps a cache (node_modules/.cache/prettier) keyed by each file's content, Prettier's version
 * and its options: a file is checked again whenever any of them changes, and a run that follows another
 * (CI's second pass, a developer's next run) skips the unchanged files: 3 s instead of 17-19 s, 14 s less
 * CPU. ESLint's cache is not used: its key is the file alone, and a type-aware rule's verdict also
 * depends on the files it imports.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'node_modules', '.bin');
/**
 * The compiler is TypeScript 7 (native; the `typescript-native` alias of typescript@7): it checks the
 * project in half of TypeScript 5's CPU time. The `typescript` package (5.x) stays for the tools that
 * use its JavaScript API, which TypeScript 7 does not have: typescript-eslint, dependency-cruiser and
 * openapi-typescript. Both install a `tsc`, so the compiler is named by its path.
 */
const TSC = path.join(ROOT, 'node_modules', 'typescript-native', 'bin', 'tsc');

const CHECKS: Array<{ name: string; command: string; args: string[] }> = [
  {
    name: 'format',
    command: path.join(BIN, 'prettier'),
    args: ['--check', '--cache', '--cache-strategy', 'content', '.'],
  },
  { name: 'lint', command: path.join(BIN, 'eslint'), args: ['.'] },
  { name: 'types', command: TSC, args: ['--noEmit'] },
  { name: 'console types', command: TSC, args: ['-p', 'console/src', '--noEmit'] },
  {
    name: 'layers',
    command: path.join(BIN, 'depcruise'),
    args: ['src', '--config', '.dependency-cruiser.mjs', '--output-type', 'err'],
  },
];

interface Outcome {
  name: string;
  ok: boolean;
  output: string;
  seconds: number;
}

function run(check: (typeof CHECKS)[number]): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(check.command, check.args, {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const done = (ok: boolean, extra = '') =>
      resolve({
        name: check.name,
        ok,
        output: output + extra,
        seconds: (performance.now() - started) / 1000,
      });
    child.on('error', (error) =>
      done(false, `could not start ${path.basename(check.command)}: ${error.message}\n`),
    );
    child.on('close', (code, signal) =>
      done(code === 0, code === 0 ? '' : `exited with ${code ?? signal}\n`),
    );
  });
}

const outcomes = await Promise.all(CHECKS.map(run));
for (const outcome of outcomes) {
  process.stdout.write(
    `\n== ${outcome.name}: ${outcome.ok ? 'ok' : 'FAILED'} (${outcome.seconds.toFixed(1)} s)\n`,
  );
  if (outcome.output.trim())
    process.stdout.write(outcome.output.endsWith('\n') ? outcome.output : `${outcome.output}\n`);
}
const failed = outcomes.filter((outcome) => !outcome.ok).map((outcome) => outcome.name);
if (failed.length > 0) {
  process.stderr.write(`\ncheck failed: ${failed.join(', ')}\n`);
  process.exit(1);
}
