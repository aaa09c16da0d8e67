// The ceiling the API is compared with: a bare Bun.serve answering a small JSON body.
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(process.env.PORT ?? 0),
  fetch: () => Response.json({ hello: 'world' }),
});
process.on('SIGTERM', () => {
  server.stop(true);
  process.exit(0);
});
