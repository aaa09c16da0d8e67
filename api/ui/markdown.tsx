import type { Child } from 'hono/jsx';

/**
 * The Markdown of the OpenAPI document's descriptions (the API guide), rendered for /docs: the
 * subset the guide uses — paragraphs, `#` headings, `-` lists, fenced code, pipe tables, inline
 * code, **bold** and links. Text only ever becomes text nodes (hono/jsx escapes it), and a link
 * keeps its target only when it is http(s), a path or a fragment, so a description cannot inject
 * markup or script.
 */

type Block =
  | { kind: 'heading'; depth: number; text: string }
  | { kind: 'code'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'table'; head: string[]; rows: string[][] }
  | { kind: 'paragraph'; text: string };

const FENCE = /^```/;
const HEADING = /^(#{1,6}) +(.*)$/;
const ITEM = /^- +(.*)$/;
const TABLE_RULE = /^\|?[ :-]+(\|[ :-]+)+\|?$/;

const cells = (line: string) =>
  line
    .trim()
    .replace(/^\||\|$/g, '')
    .split('|')
    .map((c) => c.trim());

/** Splits the text into blocks; a line that starts none of the others continues a paragraph. */
function parseBlocks(markdown: string): Block[] {
  const lines = markdown.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let i = 0;
  const startsBlock = (line: string, next: string | undefined) =>
    line.trim() === '' ||
    FENCE.test(line) ||
    HEADING.test(line) ||
    ITEM.test(line) ||
    (line.startsWith('|') && TABLE_RULE.test(next ?? ''));
  while (i < lines.length) {
    const line = lines[i]!;
    const heading = HEADING.exec(line);
    if (line.trim() === '') {
      i++;
    } else if (FENCE.test(line)) {
      const body: string[] = [];
      for (i++; i < lines.length && !FENCE.test(lines[i]!); i++) body.push(lines[i]!);
      i++; // the closing fence
      blocks.push({ kind: 'code', text: body.join('\n') });
    } else if (heading) {
      blocks.push({ kind: 'heading', depth: heading[1]!.length, text: heading[2]! });
      i++;
    } else if (line.startsWith('|') && TABLE_RULE.test(lines[i + 1] ?? '')) {
      const head = cells(line);
      const rows: string[][] = [];
      for (i += 2; i < lines.length && lines[i]!.startsWith('|'); i++) rows.push(cells(lines[i]!));
      blocks.push({ kind: 'table', head, rows });
    } else if (ITEM.test(line)) {
      const items: string[] = [];
      for (; i < lines.length; i++) {
        const item = ITEM.exec(lines[i]!);
        if (item) items.push(item[1]!);
        else if (/^ {2,}\S/.test(lines[i]!) && items.length > 0)
          items.push(`${items.pop()} ${lines[i]!.trim()}`);
        else break;
      }
      blocks.push({ kind: 'list', items });
    } else {
      const text: string[] = [line.trim()];
      for (i++; i < lines.length && !startsBlock(lines[i]!, lines[i + 1]); i++) text.push(lines[i]!.trim());
      blocks.push({ kind: 'paragraph', text: text.join(' ') });
    }
  }
  return blocks;
}

const SAFE_HREF = /^(https?:\/\/|\/(?!\/)|#)/;

/** Inline code, bold and links; everything else is text. */
function Inline(props: { text: string }): Child {
  const out: Child[] = [];
  const pattern = /`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let last = 0;
  for (const m of props.text.matchAll(pattern)) {
    if (m.index > last) out.push(props.text.slice(last, m.index));
    if (m[1] !== undefined) out.push(<code>{m[1]}</code>);
    else if (m[2] !== undefined) out.push(<strong>{m[2]}</strong>);
    else if (SAFE_HREF.test(m[4]!)) out.push(<a href={m[4]}>{m[3]}</a>);
    else out.push(m[3]!);
    last = m.index + m[0].length;
  }
  if (last < props.text.length) out.push(props.text.slice(last));
  return <>{out}</>;
}

function Heading(props: { level: number; text: string }) {
  const content = <Inline text={props.text} />;
  switch (Math.min(6, Math.max(2, props.level))) {
    case 2:
      return <h2>{content}</h2>;
    case 3:
      return <h3>{content}</h3>;
    case 4:
      return <h4>{content}</h4>;
    case 5:
      return <h5>{content}</h5>;
    default:
      return <h6>{content}</h6>;
  }
}

/**
 * `markdown` as HTML. `level` is the HTML heading level a `###` heading takes, so that a
 * description's headings nest under the page's own (`##` one above, `####` one below).
 */
export function Markdown(props: { markdown: string; level: number }): Child {
  return (
    <div class="prose">
      {parseBlocks(props.markdown).map((b) => {
        switch (b.kind) {
          case 'heading':
            return <Heading level={props.level + b.depth - 3} text={b.text} />;
          case 'code':
            return (
              <pre>
                <code>{b.text}</code>
              </pre>
            );
          case 'list':
            return (
              <ul>
                {b.items.map((item) => (
                  <li>
                    <Inline text={item} />
                  </li>
                ))}
              </ul>
            );
          case 'table':
            return (
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      {b.head.map((h) => (
                        <th scope="col">
                          <Inline text={h} />
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {b.rows.map((row) => (
                      <tr>
                        {row.map((c) => (
                          <td>
                            <Inline text={c} />
                          </td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            );
          default:
            return (
              <p>
                <Inline text={b.text} />
              </p>
            );
        }
      })}
    </div>
  );
}
