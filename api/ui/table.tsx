import type { Child } from 'hono/jsx';

/** A column's header; an `optional` column is hidden on a phone-sized screen. */
export type Column = string | { label: string; optional: true };

/**
 * A table that scrolls on its own when it is wider than the screen, captioned for screen readers,
 * with one header row; `children` are the body's rows (none when a script fills them in).
 */
export function Table(props: { id?: string; caption: string; columns: Column[]; children?: Child }) {
  return (
    <div class="table-wrap">
      <table id={props.id}>
        <caption class="visually-hidden">{props.caption}</caption>
        <thead>
          <tr>
            {props.columns.map((column) =>
              typeof column === 'string' ? (
                <th scope="col">{column}</th>
              ) : (
                <th scope="col" class="optional">
                  {column.label}
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}
