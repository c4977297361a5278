/**
 * Builds the admin console into console/dist: one ES module (every web component, Lit and the API
 * client, minified by esbuild), the page that loads it, and a gzip copy of each for the server to send.
 * `npm install` runs it (prepare), `npm start` runs it when a source is newer than the bundle.
 *
 *   node console/build.ts [--if-stale] [--out DIR]
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const ROOT = import.meta.dirname;
const SOURCES = [path.join(ROOT, 'src'), path.join(ROOT, 'index.html')];
export const DEFAULT_OUT_DIR = path.join(ROOT, 'dist');
const BUNDLE = 'svcauth-console.js';

export interface BuildResult {
  outDir: string;
  /** Bytes of each file the page loads, as sent (gzip) and as built. */
  files: Array<{ name: string; bytes: number; gzipBytes: number }>;
}

export async function buildConsole(outDir: string = DEFAULT_OUT_DIR): Promise<BuildResult> {
  const esbuild = await import('esbuild');
  fs.mkdirSync(outDir, { recursive: true });
  await esbuild.build({
    entryPoints: [path.join(ROOT, 'src/index.ts')],
    outfile: path.join(outDir, BUNDLE),
    bundle: true,
    format: 'esm',
    // Evergreen browsers (custom elements, shadow DOM, constructable stylesheets, <dialog>).
    target: ['chrome111', 'firefox115', 'safari16.4'],
    minify: true,
    legalComments: 'none',
    tsconfig: path.join(ROOT, 'src/tsconfig.json'),
    logLevel: 'warning',
  });
  fs.copyFileSync(path.join(ROOT, 'index.html'), path.join(outDir, 'index.html'));
  const files = ['index.html', BUNDLE].map((name) => {
    const bytes = fs.readFileSync(path.join(outDir, name));
    const gzip = zlib.gzipSync(bytes, { level: 9 });
    fs.writeFileSync(path.join(outDir, `${name}.gz`), gzip);
    return { name, bytes: bytes.length, gzipBytes: gzip.length };
  });
  return { outDir, files };
}

/** Whether any source (or this script) changed after the bundle was written. */
export function isStale(outDir: string = DEFAULT_OUT_DIR): boolean {
  const built = path.join(outDir, BUNDLE);
  if (!fs.existsSync(built) || !fs.existsSync(path.join(outDir, 'index.html'))) return true;
  const builtAt = fs.statSync(built).mtimeMs;
  return [import.meta.filename, ...SOURCES].some((source) => newestChange(source) > builtAt);
}

function newestChange(file: string): number {
  const stat = fs.statSync(file);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...fs.readdirSync(file).map((entry) => newestChange(path.join(file, entry))));
}

async function esbuildAvailable(): Promise<boolean> {
  try {
    await import('esbuild');
    return true;
  } catch {
    return false;
  }
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf('--out');
  const outDir = outIndex >= 0 ? path.resolve(args[outIndex + 1] ?? '') : DEFAULT_OUT_DIR;
  if (args.includes('--if-stale') && !isStale(outDir)) process.exit(0);
  if (!(await esbuildAvailable())) {
    // A production install (npm ci --omit=dev) has no bundler: the image copies a console built earlier.
    process.stdout.write('console: esbuild is not installed (production install); not building\n');
    process.exit(0);
  }
  const result = await buildConsole(outDir);
  const sizes = result.files
    .map((f) => `${f.name} ${(f.bytes / 1024).toFixed(1)} KB (gzip ${(f.gzipBytes / 1024).toFixed(1)} KB)`)
    .join(', ');
  process.stdout.write(`console: built ${path.relative(process.cwd(), outDir) || '.'}: ${sizes}\n`);
}
