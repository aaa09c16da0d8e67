import type { Child } from 'hono/jsx';

/** Pieces every page of the console is built of. */

/**
 * One of the console's views, shown one at a time by the script (`showView('<name>-view')`), which
 * focuses its heading; `lead` goes above the heading.
 */
export function View(props: { name: string; title: string; lead?: Child; children?: Child }) {
  return (
    <section id={`${props.name}-view`} aria-labelledby={`${props.name}-title`} hidden>
      {props.lead}
      <h2 id={`${props.name}-title`} tabindex={-1}>
        {props.title}
      </h2>
      {props.children}
    </section>
  );
}

/** A form's last lines: where its error is announced, then its submit button. */
export function FormEnd(props: { errorId: string; submit: string }) {
  return (
    <>
      <p id={props.errorId} class="error" role="alert" hidden />
      <p>
        <button type="submit" class="primary">
          {props.submit}
        </button>
      </p>
    </>
  );
}
