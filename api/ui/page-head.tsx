/**
 * The `<head>` of a page the API serves: its title, and its stylesheet and script under `path`
 * (`/console`, `/docs`), both from the API itself.
 */
export function PageHead(props: { title: string; path: string }) {
  return (
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{props.title}</title>
      <link rel="icon" href="data:," />
      <link rel="stylesheet" href={`${props.path}/style.css`} />
      <script src={`${props.path}/app.js`} defer />
    </head>
  );
}
