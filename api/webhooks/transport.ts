/**
 * How a webhook request leaves the process; one implementation per runtime. The dispatcher owns the
 * attempt's deadline: `signal` aborts when it passes.
 */
export interface WebhookTransport {
  post(
    url: string,
    body: string,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<{ status: number }>;
  /**
   * The same request, reading the answer: at most `maxBytes` of it (`body` null beyond), with its
   * content type. For a flow's request steps, whose answer is the steps to run next.
   */
  exchange(
    url: string,
    body: string,
    headers: Record<string, string>,
    signal: AbortSignal,
    maxBytes: number,
  ): Promise<ExchangeReply>;
}

export interface ExchangeReply {
  status: number;
  contentType: string | null;
  /** The answer's text, or null when it was longer than allowed. */
  body: string | null;
}

/** Reads at most `maxBytes` of a body; null (and the rest discarded) beyond. */
export async function readLimited(
  chunks: AsyncIterable<Uint8Array>,
  maxBytes: number,
  discard: () => void,
): Promise<string | null> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      discard();
      return null;
    }
    parts.push(chunk);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.byteLength;
  }
  return new TextDecoder().decode(all);
}

/** A target the policy refuses (SSRF guard): retrying cannot help. */
export class WebhookRefusedError extends Error {
  override name = 'WebhookRefusedError';
  readonly isWebhookRefused = true;
}

export function isWebhookRefused(error: unknown): error is WebhookRefusedError {
  return typeof error === 'object' && error !== null && 'isWebhookRefused' in error;
}
