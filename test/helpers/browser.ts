import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type ConsoleMessage, type Page } from 'playwright-core';

/** Where Debian's (and most distributions') Chromium lives; CHROMIUM_PATH names another. */
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export const CHROMIUM_INSTALL_HINT =
  'the console browser tests need Chromium: install it with `sudo apt-get install -y chromium` ' +
  '(Debian/Ubuntu; `bash .ci/run` does this itself) or set CHROMIUM_PATH to a Chromium or Chrome binary';

export function findChromium(): string | null {
  const named = process.env.CHROMIUM_PATH;
  if (named) return fs.existsSync(named) ? named : null;
  return CANDIDATES.find((candidate) => fs.existsSync(candidate)) ?? null;
}

/**
 * Chromium, found or installed: on a machine where the tests run as root with apt-get (a fresh CI or
 * development container), Debian's package is installed the way .ci/run installs redis-server; anywhere
 * else a missing browser fails the suite with the command that installs it. Never a skip.
 */
export function requireChromium(): string {
  const found = findChromium();
  if (found) return found;
  if (!process.env.CHROMIUM_PATH && process.getuid?.() === 0 && fs.existsSync('/usr/bin/apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env });
    const installed = findChromium();
    if (installed) return installed;
  }
  throw new Error(`Chromium not found (${CANDIDATES.join(', ')}): ${CHROMIUM_INSTALL_HINT}`);
}

export interface TestBrowser {
  /** The browser's one context (its profile): open pages with context.newPage(). */
  context: BrowserContext;
  close(): Promise<void>;
}

/** One headless Chromium for a whole test file, with a profile of its own that is deleted afterwards. */
export async function launchChromium(): Promise<TestBrowser> {
  const executablePath = requireChromium();
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Collects what a page reports as errors: CSP refusals, uncaught exceptions, console errors. Responses
 * with an error status (a refused sign-in's 401) are the API's answers, shown by the page itself.
 */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      errors.push(message.text());
    }
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  return errors;
}
