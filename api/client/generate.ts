/**
 * `npm run client:generate`: writes the OpenAPI document built from `createApp(...)` to
 * api/client/openapi.json and the TypeScript types generated from it to api/client/schema.gen.ts.
 * No server is started. `--check` writes nothing and exits 1 when either file is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { renderOpenApiDocument } from './spec.ts';
import { generateSchemaTypes } from './typegen.ts';

const dir = new URL('./', import.meta.url).pathname;
const files = {
  spec: `${dir}openapi.json`,
  types: `${dir}schema.gen.ts`,
};

const spec = renderOpenApiDocument();
const types = await generateSchemaTypes(spec);

if (process.argv.includes('--check')) {
  const stale = Object.entries({ spec, types })
    .filter(([key, text]) => {
      try {
        return readFileSync(files[key as keyof typeof files], 'utf8') !== text;
      } catch {
        return true;
      }
    })
    .map(([key]) => files[key as keyof typeof files]);
  if (stale.length > 0) {
    console.error(`stale: ${stale.join(', ')}; run npm run client:generate`);
    process.exit(1);
  }
  console.log('the client is up to date');
} else {
  writeFileSync(files.spec, spec);
  writeFileSync(files.types, types);
  console.log(`wrote ${files.spec} and ${files.types}`);
}
