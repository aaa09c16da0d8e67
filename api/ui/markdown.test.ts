import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { Markdown } from './markdown.tsx';

const html = (markdown: string, level = 3) => String(Markdown({ markdown, level }));

describe('the Markdown of /docs', () => {
  test('renders the blocks the guide uses', () => {
    const out = html(
      [
        'A **bold** `code` [link](https://example.com/x).',
        'continued',
        '',
        '### A heading',
        '',
        '- one',
        '  more of one',
        '- two',
        '',
        '| a | b |',
        '|---|---|',
        '| `x` | y |',
        '',
        '```sh',
        'curl -s $B | jq .',
        '```',
      ].join('\n'),
    );
    expect(out).toContain(
      '<p>A <strong>bold</strong> <code>code</code> <a href="https://example.com/x">link</a>. continued</p>',
    );
    expect(out).toContain('<h3>A heading</h3>');
    expect(out).toContain('<ul><li>one more of one</li><li>two</li></ul>');
    expect(out).toContain('<th scope="col">a</th>');
    expect(out).toContain('<td><code>x</code></td><td>y</td>');
    expect(out).toContain('<pre><code>curl -s $B | jq .</code></pre>');
  });

  test('nests headings under the level it is given', () => {
    expect(html('### Top', 2)).toContain('<h2>Top</h2>');
    expect(html('#### Below', 3)).toContain('<h4>Below</h4>');
  });

  test('hostile text stays text, and only http(s), path and fragment links keep their target', () => {
    const out = html(
      [
        '<script>alert(1)</script> `<img src=x onerror=alert(1)>`',
        '[click](javascript:alert(1)) [ok](/docs) [proto](//evil.example)',
        '',
        '```',
        '</code></pre><script>alert(2)</script>',
        '```',
      ].join('\n'),
    );
    expect(out).not.toContain('<script');
    expect(out).not.toContain('<img');
    expect(out).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(out).not.toContain('javascript:');
    expect(out).not.toContain('href="//evil.example"');
    expect(out).toContain('<a href="/docs">ok</a>');
  });

  test('every description of the OpenAPI document renders with no Markdown left over', () => {
    const doc = JSON.parse(readFileSync(new URL('../client/openapi.json', import.meta.url), 'utf8')) as {
      info: { description: string };
      tags: { description: string }[];
      paths: Record<string, Record<string, { description?: string }>>;
    };
    const descriptions = [
      doc.info.description,
      ...doc.tags.map((t) => t.description),
      ...Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.description ?? '')),
    ];
    for (const description of descriptions) {
      // What is left once the rendered blocks' tags are gone, code blocks aside.
      const text = html(description)
        .replace(/<pre>[\s\S]*?<\/pre>/g, '')
        .replace(/<code>[^<]*<\/code>/g, '')
        .replace(/<[^>]+>/g, '\n');
      expect(text).not.toMatch(/```|\*\*|\|---|^#{1,6} |^- |\]\(/m);
    }
  });
});
