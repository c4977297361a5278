// The layers of src/ (README, "Architecture"), checked by `npm run check`: an import that runs against
// them fails the build instead of waiting for a reviewer to notice. src/server.ts, src/main.ts and
// src/cli are the composition roots: they may import every layer.

/** Node built-ins that talk to the outside world (files, sockets, processes). */
const NODE_IO = '^(node:)?(fs|net|http|https|http2|tls|dgram|dns|child_process|cluster|worker_threads)(/|$)';
/** Packages that are drivers or frameworks: storage, the state store, HTTP, logging, metrics. */
const IO_PACKAGES =
  'node_modules/(pg|pg-[^/]+|@electric-sql/pglite|kysely|ioredis|koa|@koa/[^/]+|oidc-provider|pino|prom-client|bcrypt)/';

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes two modules one: neither can be read, tested or moved alone.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'domain-imports-only-domain',
      severity: 'error',
      comment:
        'The domain core (src/domain) is pure rules: it imports nothing of the server but the shared catalogue in config/.',
      from: { path: '^src/domain/' },
      to: { path: '^src/', pathNot: '^src/domain/' },
    },
    {
      name: 'domain-has-no-io',
      severity: 'error',
      comment: 'The domain core has no I/O: no sockets, files, drivers or frameworks.',
      from: { path: '^src/domain/' },
      to: { path: [NODE_IO, IO_PACKAGES] },
    },
    {
      name: 'http-never-touches-persistence',
      severity: 'error',
      comment:
        'A request reads route -> validation -> service -> repository: routes call services, never repositories or the database.',
      from: { path: '^src/http/' },
      to: { path: ['^src/persistence/', 'node_modules/(kysely|pg|@electric-sql/pglite)/'] },
    },
    {
      name: 'persistence-imports-no-use-cases',
      severity: 'error',
      comment:
        'Repositories are the bottom layer: they never import services, revocation, oauth or http (those import them).',
      from: { path: '^src/persistence/' },
      to: { path: '^src/(services|revocation|oauth|http|workers|cli|state|keys|observability)/' },
    },
    {
      name: 'nothing-below-http-imports-http',
      severity: 'error',
      comment: 'HTTP is the outermost layer: services, oauth, storage and observability never depend on it.',
      from: {
        path: '^src/(domain|oauth|services|persistence|revocation|state|observability|keys|logging|cache|workers|config)/',
      },
      to: { path: '^src/http/' },
    },
    {
      name: 'observability-is-a-leaf',
      severity: 'error',
      comment: 'Metrics observe the server; they are handed what they read, and import none of its layers.',
      from: { path: '^src/observability/' },
      to: { path: '^src/(oauth|http|services|persistence|revocation|state|keys|workers)/' },
    },
    {
      name: 'resource-server-kit-stands-alone',
      severity: 'error',
      comment:
        'The resource-server kit (svcauth/resource-server) is published for other services: it imports only itself, jose and Node built-ins.',
      from: { path: '^src/resource-server/' },
      to: {
        pathNot: ['^src/resource-server/', 'node_modules/jose/'],
        dependencyTypesNot: ['core'],
      },
    },
  ],
  options: {
    // Type-only imports count: a type from another layer is a dependency on it all the same.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|data|coverage)/' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts', '.json'],
    },
  },
};
